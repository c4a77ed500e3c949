/* release-svg.c — a stacked-area SVG plot of a release plan: who is offered what, over time. */
#include "release-svg.h"

#include <errno.h>
#include <string.h>

#include "release-time.h"

#define W 960
#define H 480
#define LEFT 70
#define RIGHT 220
#define TOP 40
#define BOTTOM 60
#define PLOT_W (W - LEFT - RIGHT)
#define PLOT_H (H - TOP - BOTTOM)

static const char *const palette[] = { "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
                                       "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac" };

static int put_escaped(Buf *out, const char *s)
{
        return buf_put_markup(out, s, strlen(s));
}

static double x_of(const Plan *p, size_t i)
{
        int64_t span = p->times[p->n_times - 1] - p->times[0];
        return LEFT + (span > 0 ? (double)PLOT_W * (double)(p->times[i] - p->times[0]) / (double)span : 0.0);
}

static double y_of(double share)
{
        return TOP + PLOT_H * (1.0 - share);
}

/* The band of column c: the cumulative share below it (lower edge, right to left) and with it (upper
 * edge, left to right). */
static int put_band(const Plan *p, size_t c, Buf *out)
{
        int r = buf_printf(out, "<polygon fill=\"%s\" fill-opacity=\"0.85\" points=\"",
                           palette[c % ELEMENTSOF(palette)]);

        for (size_t i = 0; r >= 0 && i < p->n_times; i++) {
                double top = 0;
                for (size_t k = 0; k <= c; k++)
                        top += p->share[i * p->n_columns + k];
                r = buf_printf(out, "%.1f,%.1f ", x_of(p, i), y_of(MIN(top, 1.0)));
        }
        for (size_t i = p->n_times; r >= 0 && i-- > 0;) {
                double bottom = 0;
                for (size_t k = 0; k < c; k++)
                        bottom += p->share[i * p->n_columns + k];
                r = buf_printf(out, "%.1f,%.1f ", x_of(p, i), y_of(MIN(bottom, 1.0)));
        }
        if (r >= 0)
                r = buf_puts(out, "\"><title>");
        if (r >= 0)
                r = put_escaped(out, p->versions[c]);
        return r < 0 ? r : buf_puts(out, "</title></polygon>\n");
}

static int put_axes(const Plan *p, Buf *out)
{
        char ts[40];
        int r = buf_printf(
                out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n",
                LEFT, TOP, PLOT_W, PLOT_H);

        for (int k = 0; r >= 0 && k <= 4; k++)
                r = buf_printf(out,
                               "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ccc\"/>"
                               "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d%%</text>\n",
                               LEFT - 5, LEFT, y_of(k / 4.0), y_of(k / 4.0), LEFT - 8, y_of(k / 4.0) + 4,
                               k * 25);
        for (int k = 0; r >= 0 && k <= 4; k++) {
                size_t i = (size_t)((double)(p->n_times - 1) * k / 4.0);
                if (release_time_format_short(p->times[i], ts, sizeof(ts)) < 0)
                        ts[0] = 0;
                r = buf_printf(out,
                               "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>"
                               "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                               x_of(p, i), x_of(p, i), TOP + PLOT_H, TOP + PLOT_H + 5, x_of(p, i),
                               TOP + PLOT_H + 20, ts);
        }
        if (r >= 0)
                r = buf_printf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time (UTC)</text>\n",
                               LEFT + PLOT_W / 2, H - 15);
        return r;
}

static int put_legend(const Plan *p, Buf *out)
{
        int r = buf_printf(out, "<text x=\"%d\" y=\"%d\" font-weight=\"bold\">bound for</text>\n",
                           LEFT + PLOT_W + 20, TOP + 10);

        for (size_t c = 0; r >= 0 && c < p->n_columns && c < 20; c++) {
                int y = TOP + 30 + 20 * (int)c;
                r = buf_printf(out,
                               "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                               "<text x=\"%d\" y=\"%d\">",
                               LEFT + PLOT_W + 20, y - 10,
                               palette[(p->n_columns - 1 - c) % ELEMENTSOF(palette)], LEFT + PLOT_W + 38, y);
                if (r >= 0)
                        r = put_escaped(out, p->versions[p->n_columns - 1 - c]);
                if (r >= 0)
                        r = buf_puts(out, "</text>\n");
        }
        return r;
}

int plan_write_svg(const Plan *p, const char *title, Buf *out)
{
        int r;

        if (p->n_times < 1)
                return -EINVAL;
        r = buf_printf(
                out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                "font-family=\"sans-serif\" font-size=\"12\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                "<text x=\"%d\" y=\"24\" font-size=\"15\" font-weight=\"bold\">",
                W, H, W, H, LEFT);
        if (r >= 0)
                r = put_escaped(out, title ? title : "Share of the fleet bound for each release");
        if (r >= 0)
                r = buf_puts(out, "</text>\n");
        for (size_t c = 0; r >= 0 && c < p->n_columns; c++)
                r = put_band(p, c, out);
        if (r >= 0)
                r = put_axes(p, out);
        if (r >= 0)
                r = put_legend(p, out);
        return r < 0 ? r : buf_puts(out, "</svg>\n");
}
