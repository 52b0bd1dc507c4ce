/* plot — training curves as a self-contained SVG (no scripts, no external
 * resources): a loss panel and an accuracy panel side by side. Part of the
 * examples, not of libnn. */
#ifndef NN_EXAMPLES_PLOT_H
#define NN_EXAMPLES_PLOT_H

/* Writes the SVG to path (replacing it). n >= 1 points per series; epochs
 * are the x values; accuracies are fractions in [0, 1] and are drawn as
 * percentages. Non-finite values leave a gap. title is XML-escaped.
 * Returns 0 on success, -1 with errno set if the file cannot be written. */
int plot_curves_svg(const char *path, const char *title, int n, const double *epochs,
                    const double *train_loss, const double *test_loss,
                    const double *train_acc, const double *test_acc);

#endif /* NN_EXAMPLES_PLOT_H */
