/* plot — training curves as a self-contained SVG. Geometry in SVG user units
 * (pixels at 100%); every coordinate is computed here, no scripts. */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

enum { WIDTH = 1000, HEIGHT = 440 };

/* Plot areas of the two panels: left edge, top, width, height. */
enum { PANEL_TOP = 92, PANEL_H = 280, PANEL_W = 380, LEFT0 = 80, LEFT1 = 580 };

#define TRAIN_COLOR "#1f77b4"
#define TEST_COLOR "#e8590c"
#define FONT "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""

typedef struct axis {
    double lo, hi, step; /* data range covered, tick spacing */
    int decimals;        /* digits after the point in tick labels */
} axis;

/* Ticks at multiples of 1, 2 or 5 times a power of ten, about `want` of
 * them, covering [lo, hi]. */
static axis nice_axis(double lo, double hi, int want, int integer)
{
    axis a;
    if (!(hi > lo)) {
        double pad = fabs(lo) > 1e-12 ? fabs(lo) * 0.1 : 1.0;
        lo -= pad;
        hi += pad;
    }
    double raw = (hi - lo) / want, p = pow(10.0, floor(log10(raw))), f = raw / p;
    a.step = (f < 1.5 ? 1.0 : f < 3.5 ? 2.0 : f < 7.5 ? 5.0 : 10.0) * p;
    if (integer && a.step < 1.0)
        a.step = 1.0;
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    int k = (int)floor(log10(a.step) + 1e-9);
    a.decimals = k < 0 ? -k : 0;
    if (fmod(a.step / pow(10.0, k), 1.0) > 1e-9) /* a step of 2.5 never occurs, but be safe */
        a.decimals++;
    return a;
}

static void range_of(int n, const double *a, const double *b, double scale, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        const double v[2] = {a[i] * scale, b[i] * scale};
        for (int k = 0; k < 2; k++) {
            if (isfinite(v[k])) {
                *lo = v[k] < *lo ? v[k] : *lo;
                *hi = v[k] > *hi ? v[k] : *hi;
            }
        }
    }
    if (!isfinite(*lo)) { /* nothing finite to draw: any sane axis will do */
        *lo = 0.0;
        *hi = 1.0;
    }
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

typedef struct panel {
    double left, top, w, h;
    axis x, y;
} panel;

static double px(const panel *p, double x)
{
    return p->left + (x - p->x.lo) / (p->x.hi - p->x.lo) * p->w;
}

static double py(const panel *p, double y)
{
    return p->top + p->h - (y - p->y.lo) / (p->y.hi - p->y.lo) * p->h;
}

static void series(FILE *f, const panel *p, int n, const double *xs, const double *ys, double scale,
                   const char *color, const char *dash)
{
    fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" stroke-linejoin=\"round\"%s d=\"",
            color, dash);
    int pen_down = 0;
    for (int i = 0; i < n; i++) {
        double y = ys[i] * scale;
        if (!isfinite(y) || !isfinite(xs[i])) {
            pen_down = 0;
            continue;
        }
        fprintf(f, "%s%.1f %.1f ", pen_down ? "L" : "M", px(p, xs[i]), py(p, y));
        pen_down = 1;
    }
    fputs("\"/>\n", f);
    if (n <= 40) { /* markers only while they stay apart */
        for (int i = 0; i < n; i++) {
            double y = ys[i] * scale;
            if (isfinite(y) && isfinite(xs[i]))
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.6\" fill=\"white\" stroke=\"%s\" "
                           "stroke-width=\"2\"/>\n", px(p, xs[i]), py(p, y), color);
        }
    }
}

static void draw_panel(FILE *f, double left, const char *title, const char *ylabel, int n,
                       const double *xs, const double *train, const double *test, double scale)
{
    panel p = {.left = left, .top = PANEL_TOP, .w = PANEL_W, .h = PANEL_H};
    double xlo = xs[0], xhi = xs[0], ylo, yhi;
    for (int i = 1; i < n; i++) {
        xlo = xs[i] < xlo ? xs[i] : xlo;
        xhi = xs[i] > xhi ? xs[i] : xhi;
    }
    p.x = nice_axis(xlo, xhi, 6, 1);
    if (xhi > xlo) { /* epochs 1..n exactly, not rounded out to 0 */
        p.x.lo = xlo;
        p.x.hi = xhi;
    }
    range_of(n, train, test, scale, &ylo, &yhi);
    double pad = (yhi - ylo) * 0.05;
    p.y = nice_axis(ylo - pad, yhi + pad, 5, 0);

    fprintf(f, "<g " FONT ">\n");
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"15\" font-weight=\"bold\" fill=\"#333\" "
               "text-anchor=\"middle\">%s</text>\n", p.left + p.w / 2, p.top - 12, title);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fafafa\" "
               "stroke=\"none\"/>\n", p.left, p.top, p.w, p.h);

    /* horizontal grid and y tick labels */
    for (double t = p.y.lo; t <= p.y.hi + p.y.step * 1e-6; t += p.y.step) {
        double y = py(&p, t);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n",
                p.left, y, p.left + p.w, y);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n",
                p.left - 5, y, p.left, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#444\" text-anchor=\"end\">"
                   "%.*f</text>\n", p.left - 8, y + 4, p.y.decimals, fabs(t) < 1e-12 ? 0.0 : t);
    }
    /* vertical grid and x tick labels at whole epochs */
    double first = ceil(p.x.lo / p.x.step - 1e-9) * p.x.step;
    for (double t = first; t <= p.x.hi + p.x.step * 1e-6; t += p.x.step) {
        double x = px(&p, t);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e0e0e0\"/>\n",
                x, p.top, x, p.top + p.h);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\"/>\n",
                x, p.top + p.h, x, p.top + p.h + 5);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#444\" "
                   "text-anchor=\"middle\">%.*f</text>\n", x, p.top + p.h + 19, p.x.decimals,
                fabs(t) < 1e-12 ? 0.0 : t);
    }
    /* axes */
    fprintf(f, "<path d=\"M%.1f %.1f V%.1f H%.1f\" fill=\"none\" stroke=\"#555\" "
               "stroke-width=\"1.2\"/>\n", p.left, p.top, p.top + p.h, p.left + p.w);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" fill=\"#333\" "
               "text-anchor=\"middle\">epoch</text>\n", p.left + p.w / 2, p.top + p.h + 40);
    fprintf(f, "<text transform=\"translate(%.1f %.1f) rotate(-90)\" font-size=\"13\" "
               "fill=\"#333\" text-anchor=\"middle\">%s</text>\n", p.left - 55, p.top + p.h / 2,
            ylabel);
    fputs("</g>\n", f);

    series(f, &p, n, xs, train, scale, TRAIN_COLOR, "");
    series(f, &p, n, xs, test, scale, TEST_COLOR, " stroke-dasharray=\"7 4\"");
}

static void legend_entry(FILE *f, double x, double y, const char *color, const char *dash,
                         const char *label)
{
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
               "stroke-width=\"2.2\"%s/>\n", x, y, x + 34, y, color, dash);
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.6\" fill=\"white\" stroke=\"%s\" "
               "stroke-width=\"2\"/>\n", x + 17, y, color);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" fill=\"#333\" " FONT ">%s</text>\n",
            x + 42, y + 4.5, label);
}

int plot_curves_svg(const char *path, const char *title, int n, const double *epochs,
                    const double *train_loss, const double *test_loss,
                    const double *train_acc, const double *test_acc)
{
    if (!path || n < 1 || !epochs || !train_loss || !test_loss || !train_acc || !test_acc) {
        errno = EINVAL;
        return -1;
    }
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\">\n", WIDTH, HEIGHT, WIDTH, HEIGHT);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", WIDTH, HEIGHT);
    fprintf(f, "<text x=\"%d\" y=\"28\" font-size=\"18\" font-weight=\"bold\" fill=\"#222\" "
               "text-anchor=\"middle\" " FONT ">", WIDTH / 2);
    xml_text(f, title ? title : "");
    fputs("</text>\n", f);
    legend_entry(f, WIDTH / 2.0 - 110, 50, TRAIN_COLOR, "", "train");
    legend_entry(f, WIDTH / 2.0 + 20, 50, TEST_COLOR, " stroke-dasharray=\"7 4\"", "test");

    draw_panel(f, LEFT0, "Loss", "cross-entropy", n, epochs, train_loss, test_loss, 1.0);
    draw_panel(f, LEFT1, "Accuracy", "accuracy (%)", n, epochs, train_acc, test_acc, 100.0);
    fputs("</svg>\n", f);

    int err = ferror(f);
    if (fclose(f) != 0 || err) {
        if (!errno)
            errno = EIO;
        return -1;
    }
    return 0;
}
