// PlotStyle: the instruments' shared look. One colour per quantity everywhere it appears (prefill vs
// decode, person vs virtual user vs API, running vs cached idle), and applyPlotPalette(), which
// makes a QCustomPlot follow the widget palette (light or dark). Used by LivePlot, RooflineWidget
// and KvBlockMapWidget.
#pragma once
#include <QColor>
#include <QPalette>

class QCustomPlot;
class QCPLegend;
class QCPAxis;

namespace PlotStyle {
// Phases (throughput plot, roofline points).
inline QColor prefill() { return QColor(0xE0, 0x7B, 0x24); }    // orange
inline QColor decode() { return QColor(0x2C, 0x7F, 0xB8); }     // blue
inline QColor mixed() { return QColor(0x8E, 0x5E, 0xA2); }      // purple
// Owners (KV map).
inline QColor person() { return QColor(0x1B, 0x9E, 0x77); }     // teal
inline QColor virtualUser() { return QColor(0x75, 0x70, 0xB3); }// violet
inline QColor api() { return QColor(0xD9, 0x5F, 0x02); }        // rust
inline QColor anonymous() { return QColor(0x80, 0x80, 0x80); }
// KV states and events.
inline QColor kvUsed() { return QColor(0x2C, 0x7F, 0xB8); }
inline QColor kvCached() { return QColor(0x9E, 0xCA, 0xE1); }
inline QColor eviction() { return QColor(0xD6, 0x27, 0x28); }   // red
inline QColor preemption() { return QColor(0xFF, 0x9F, 0x1C); } // amber
inline QColor windowFreed() { return QColor(0x17, 0x9C, 0x9C); } // teal
// Queue, utilisation, latency.
inline QColor running() { return QColor(0x2C, 0x7F, 0xB8); }
inline QColor waiting() { return QColor(0xD6, 0x27, 0x28); }
inline QColor flops() { return QColor(0xC4, 0x4E, 0x52); }
inline QColor bandwidth() { return QColor(0x4C, 0x72, 0xB0); }
inline QColor ttft() { return QColor(0x81, 0x72, 0xB2); }
inline QColor tpot() { return QColor(0x2C, 0xA0, 0x2C); }
inline QColor hitRate() { return QColor(0x1B, 0x9E, 0x77); }
inline QColor recomputed() { return QColor(0xD9, 0x5F, 0x02); }

/// Mixes c towards the background: t = 0 gives c, 1 gives bg.
QColor blend(const QColor& c, const QColor& bg, double t);
bool isDark(const QPalette& pal);
/// Neutral series (busy %, the measured roof) in a colour readable on this palette.
QColor neutral(const QPalette& pal);
/// Background, axes, ticks, grid, labels, titles and legend from the palette (callers recolour
/// axis labels that name one series afterwards).
void applyPlotPalette(QCustomPlot* plot, const QPalette& pal);
/// Re-wraps a legend to the most columns (up to maxColumns) whose width fits `width` pixels and
/// returns its width then. QCustomPlot squeezes a wider legend and clips the names ("num_requ").
/// Also leaves a few pixels under each entry: an entry is clipped to a rect exactly one text
/// line high, which cut the "_" of the row above the last.
int fitLegend(QCPLegend* legend, int width, int maxColumns);
/// Asks the axis's ticker for as many ticks as its labels have room for along the axis rect
/// (one label height plus a gap apart on a vertical axis, the widest label plus a gap on a
/// horizontal one), at most maxTicks and at least 2. A fixed count overlapped the labels of the
/// small plots a 1280x720 screen gives. A log axis labels every k-th decade instead, k as small
/// as the room allows. Call before each replot (the rect and range may have changed).
void fitTicks(QCPAxis* axis, int maxTicks);
} // namespace PlotStyle
