// KnobControls: controls made from knob rows (see KnobControls.h).
#include "KnobControls.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QKeyEvent>
#include <QLineEdit>
#include <QSignalBlocker>
#include <QSpinBox>

#include <cmath>
#include <optional>
#include <type_traits>

namespace {

// A spin box that lets a number outside its range be typed (Qt refuses the keystroke, or reverts
// the text on Enter without a word) and hands it on before reverting, so the refusal can be shown.
template <class Box>
class KnobSpinBox : public Box {
public:
    using Box::Box;
    std::function<void(double)> onOutOfRange;

protected:
    QValidator::State validate(QString& text, int& pos) const override {
        const QValidator::State s = Box::validate(text, pos);
        if (s != QValidator::Invalid) return s;
        // A lone minus starts a negative number, which is out of range of every knob.
        const bool sign = stripped(text) == this->locale().negativeSign();
        return sign || outOfRange(text) ? QValidator::Intermediate : s;
    }
    void keyPressEvent(QKeyEvent* e) override {
        if (e->key() == Qt::Key_Return || e->key() == Qt::Key_Enter) handOn();
        Box::keyPressEvent(e);
    }
    void focusOutEvent(QFocusEvent* e) override {
        handOn();
        Box::focusOutEvent(e);
    }

private:
    QString stripped(QString text) const {
        if (!this->suffix().isEmpty() && text.endsWith(this->suffix())) text.chop(this->suffix().size());
        return text.trimmed();
    }
    // The typed number when it lies outside the range (at the box's decimals), else nothing.
    std::optional<double> outOfRange(const QString& typed) const {
        const QString text = stripped(typed);
        bool ok = false;
        double v = 0;
        if constexpr (std::is_same_v<Box, QSpinBox>) {
            v = this->locale().toInt(text, &ok);
        } else {
            v = this->locale().toDouble(text, &ok);
            const double scale = std::pow(10.0, this->decimals());
            v = std::round(v * scale) / scale;
            ok = ok && std::isfinite(v);
        }
        if (!ok || (v >= this->minimum() && v <= this->maximum())) return std::nullopt;
        return v;
    }
    void handOn() {
        QString text = this->lineEdit()->text();
        int pos = 0;
        if (Box::validate(text, pos) == QValidator::Acceptable || !onOutOfRange) return;
        if (const std::optional<double> v = outOfRange(text)) onOutOfRange(*v);
    }
};

QString words(std::string_view s) { return QString::fromUtf8(s.data(), qsizetype(s.size())); }

bool isPowerCombo(const rl::knob_info& k) { return k.type == rl::knob_type::integer && k.power_of_two; }

template <class Box>
Box* spinBox(const rl::knob_info& k, QWidget* parent, const std::function<void()>& onEdit,
             std::function<void(double)> onOutOfRange) {
    auto* s = new KnobSpinBox<Box>(parent);
    s->onOutOfRange = std::move(onOutOfRange);
    if constexpr (std::is_same_v<Box, QDoubleSpinBox>) {
        s->setDecimals(k.decimals);   // before the range, which QDoubleSpinBox rounds to it
        s->setRange(rl::knob_lowest(k), k.max);
        s->setSingleStep(k.step);
    } else {
        s->setRange(int(rl::knob_lowest(k)), int(k.max));
        s->setSingleStep(int(k.step));
    }
    s->setSuffix(QLatin1Char(' ') + words(k.unit));
    if (!k.zero_means.empty()) s->setSpecialValueText(words(k.zero_means));   // shown at min, which is 0
    s->setKeyboardTracking(false);   // apply on Enter / focus out, not per keystroke
    QObject::connect(s, &Box::valueChanged, s, [onEdit] { onEdit(); });
    return s;
}

} // namespace

namespace KnobControls {

QString label(const rl::knob_info& k) {
    QString s = words(k.name).replace(QLatin1Char('_'), QLatin1Char(' '));
    if (!s.isEmpty()) s[0] = s[0].toUpper();
    return s;
}

QWidget* create(const rl::knob_info& k, QWidget* parent, std::function<void()> onEdit,
                std::function<void(double)> onOutOfRange) {
    QWidget* w = nullptr;
    if (k.type == rl::knob_type::boolean) {
        auto* c = new QCheckBox(label(k), parent);
        QObject::connect(c, &QCheckBox::toggled, c, [onEdit] { onEdit(); });
        w = c;
    } else if (k.type == rl::knob_type::choice || isPowerCombo(k)) {
        auto* c = new QComboBox(parent);
        if (k.type == rl::knob_type::choice) {
            for (std::string_view word : k.choices) c->addItem(words(word), words(word));
            c->setEnabled(k.choices.size() > 1);   // one mode only: shown, not changeable
        } else {
            for (long long v = 1; v <= static_cast<long long>(k.max); v *= 2)
                if (v >= k.min) c->addItem(QString::number(v), int(v));
        }
        QObject::connect(c, &QComboBox::currentIndexChanged, c, [onEdit] { onEdit(); });
        w = c;
    } else if (k.type == rl::knob_type::integer) {
        w = spinBox<QSpinBox>(k, parent, onEdit, std::move(onOutOfRange));
    } else {
        w = spinBox<QDoubleSpinBox>(k, parent, onEdit, std::move(onOutOfRange));
    }
    w->setObjectName(words(k.name));
    w->setToolTip(words(k.help));
    return w;
}

double value(const rl::knob_info& k, const QWidget* control) {
    if (auto* c = qobject_cast<const QCheckBox*>(control)) return c->isChecked() ? 1 : 0;
    if (auto* c = qobject_cast<const QComboBox*>(control))
        return isPowerCombo(k) ? c->currentData().toInt() : std::max(0, c->currentIndex());
    if (auto* s = qobject_cast<const QSpinBox*>(control)) return s->value();
    if (auto* s = qobject_cast<const QDoubleSpinBox*>(control)) return s->value();
    return 0;
}

void setValue(const rl::knob_info& k, QWidget* control, double v, const QString& specialText) {
    const QSignalBlocker quiet(control);
    if (auto* c = qobject_cast<QCheckBox*>(control)) {
        c->setChecked(v != 0);
    } else if (auto* c = qobject_cast<QComboBox*>(control)) {
        c->setCurrentIndex(isPowerCombo(k) ? c->findData(int(v)) : int(v));
    } else if (auto* s = qobject_cast<QAbstractSpinBox*>(control)) {
        if (!k.zero_means.empty())
            s->setSpecialValueText(specialText.isEmpty() ? words(k.zero_means) : specialText);
        if (auto* i = qobject_cast<QSpinBox*>(s)) i->setValue(int(v));
        if (auto* d = qobject_cast<QDoubleSpinBox*>(s)) d->setValue(v);
    }
}

} // namespace KnobControls
