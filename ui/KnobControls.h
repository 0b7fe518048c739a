// KnobControls: one Qt control per row of the serving-knob table (engine/serving/serving_knobs.h),
// made, read and written from the row alone, so the serving panel has no per-knob code. An
// integer knob is a spin box (a combo of the allowed values where it must be a power of two), a
// real one a double spin box, a boolean a check box, a choice a combo box. The row gives the
// object name (the knob's name), the range, the unit as suffix, the help as tooltip and what 0
// means as the special value text. A number typed outside the range is handed to onOutOfRange
// (on Enter or focus out) before the spin box reverts it, so the validator can say why it is
// refused instead of the keystrokes vanishing. Exercise: tests/test_workbench_window.cpp
// (panelFollowsTheKnobTable, outOfRangeTypedIsRefusedUnderItsField).
#pragma once
#include "serving/serving_knobs.h"

#include <QString>

#include <functional>

class QWidget;

namespace KnobControls {

/// The control for row k, a child of parent. onEdit runs after each edit the person makes (not
/// after setValue); onOutOfRange gets a typed number outside the row's range.
QWidget* create(const rl::knob_info& k, QWidget* parent, std::function<void()> onEdit,
                std::function<void(double)> onOutOfRange);
/// The control's value as the table's get/set see it (booleans 0/1, choices their index).
double value(const rl::knob_info& k, const QWidget* control);
/// Shows v without calling onEdit. specialText replaces the row's zero_means where the control
/// shows its special zero ("auto (512)" for a resolved pool); "" keeps zero_means.
void setValue(const rl::knob_info& k, QWidget* control, double v, const QString& specialText = QString());
/// The check box text of a boolean row: its name in words ("Chunked prefill").
QString label(const rl::knob_info& k);

} // namespace KnobControls
