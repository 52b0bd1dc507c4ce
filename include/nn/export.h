/* libnn — symbol export macro. Part of the public API. */
#ifndef NN_EXPORT_H
#define NN_EXPORT_H

/* Every public function carries NN_API; the library is built with hidden
 * visibility so nothing else leaves libnn.so. */
#if defined(_WIN32)
#  if defined(NN_BUILDING)
#    define NN_API __declspec(dllexport)
#  else
#    define NN_API
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define NN_API __attribute__((visibility("default")))
#else
#  define NN_API
#endif

#endif /* NN_EXPORT_H */
