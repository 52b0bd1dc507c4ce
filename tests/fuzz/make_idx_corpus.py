#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_idx_load into a directory: small valid IDX
files, raw and gzip'd ("ok-images-*", "ok-labels-*", which must load as
such) and damaged ones ("bad-*", which must give NN_ERR_FORMAT both as
images and as labels, from a buffer and from a file).
tests/test_fuzz_replay_idx.c replays them.

    tests/fuzz/make_idx_corpus.py tests/fuzz/corpus/idx
"""
import gzip
import os
import struct
import sys


def idx(dims, type_code=0x08, data=None, rank=None):
    rank = len(dims) if rank is None else rank
    n = 1
    for d in dims:
        n *= d
    if data is None:
        data = bytes((i * 37 + 11) % 256 for i in range(n))
    return bytes([0, 0, type_code, rank]) + b''.join(struct.pack('>I', d) for d in dims) + data


def gz(b):
    return gzip.compress(b, compresslevel=9, mtime=0)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    img = idx([2, 3, 4])
    files = {
        'ok-images-2x3x4': img,
        'ok-images-1x1x1': idx([1, 1, 1]),
        'ok-images-3x28x28.gz': gz(idx([3, 28, 28])),
        'ok-labels-10': idx([10], data=bytes(range(10))),
        'ok-labels-1': idx([1], data=b'\x07'),
        'ok-labels-300-all-bytes.gz': gz(idx([300], data=bytes(i % 256 for i in range(300)))),
        'bad-empty': b'',
        'bad-three-bytes': b'\x00\x00\x08',
        'bad-magic': b'\x01' + img[1:],
        'bad-type-float': idx([2, 3, 4], type_code=0x0d, data=bytes(24 * 4)),
        'bad-rank-0': bytes([0, 0, 8, 0]),
        'bad-rank-2': idx([4, 6]),
        'bad-rank-255': bytes([0, 0, 8, 255]) + bytes(64),
        'bad-truncated-header': img[:9],
        'bad-truncated-data': img[:-1],
        'bad-trailing-byte': img + b'\x00',
        'bad-zero-dim': idx([2, 0, 4], data=b''),
        'bad-dims-overflow': bytes([0, 0, 8, 3]) + b'\xff' * 12 + bytes(8),
        'bad-dims-promise-more': bytes([0, 0, 8, 3]) + struct.pack('>III', 65535, 65535, 2) + bytes(8),
        'bad-truncated.gz': gz(img)[:-9],
        'bad-corrupt.gz': gz(img)[:12] + b'\xde\xad\xbe\xef' + gz(img)[16:],
        'bad-gzip-of-garbage.gz': gz(b'not an IDX file at all'),
    }
    for name, data in sorted(files.items()):
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)
    print('%d files in %s' % (len(files), out))


if __name__ == '__main__':
    main()
