/* release-svg.h — the plan of `upkeep release plan --svg` as a self-contained SVG document (no scripts,
 * fonts, styles or images from elsewhere): the share of the fleet bound for each release over time, as
 * stacked areas, with time and percentage axes and a legend. Pure. */
#pragma once

#include "buf.h"
#include "release-plan.h"

/* title (may be NULL) is printed above the plot. */
int plan_write_svg(const Plan *p, const char *title, Buf *out);
