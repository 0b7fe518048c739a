// MessageBanner: the window's notice strip (see MessageBanner.h).
#include "MessageBanner.h"

#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QStyle>
#include <QToolButton>

MessageBanner::MessageBanner(QWidget* parent) : QFrame(parent) {
    setObjectName(QStringLiteral("banner"));
    setAutoFillBackground(true);
    setFrameShape(QFrame::NoFrame);

    mIcon = new QLabel(this);
    mText = new QLabel(this);
    mText->setObjectName(QStringLiteral("bannerText"));
    mText->setWordWrap(true);
    mText->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* close = new QToolButton(this);
    close->setAutoRaise(true);
    close->setIcon(style()->standardIcon(QStyle::SP_TitleBarCloseButton));
    close->setToolTip(tr("Dismiss"));
    connect(close, &QToolButton::clicked, this, &QWidget::hide);

    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(12, 8, 8, 8);
    layout->setSpacing(10);
    layout->addWidget(mIcon, 0, Qt::AlignTop);
    layout->addWidget(mText, 1);
    layout->addWidget(close, 0, Qt::AlignTop);
    hide();
}

void MessageBanner::showMessage(Kind kind, const QString& text) {
    mKind = kind;
    mText->setText(text);
    const QStyle::StandardPixmap icon = kind == Kind::Error     ? QStyle::SP_MessageBoxCritical
                                        : kind == Kind::Warning ? QStyle::SP_MessageBoxWarning
                                                                : QStyle::SP_MessageBoxInformation;
    const int side = fontMetrics().height();
    mIcon->setPixmap(style()->standardIcon(icon).pixmap(side, side));
    applyColors();
    show();
}

QString MessageBanner::text() const { return mText->text(); }

void MessageBanner::changeEvent(QEvent* e) {
    QFrame::changeEvent(e);
    if (e->type() == QEvent::PaletteChange && !mApplying) applyColors();
}

void MessageBanner::applyColors() {
    // A semantic hue blended into the window colour: strong enough to notice, calm in both themes.
    const QColor hue = mKind == Kind::Error     ? QColor(220, 50, 47)
                       : mKind == Kind::Warning ? QColor(203, 145, 20)
                                                : palette().color(QPalette::Highlight);
    const QColor window = parentWidget() ? parentWidget()->palette().color(QPalette::Window)
                                         : palette().color(QPalette::Window);
    const qreal t = 0.18;
    QColor bg = QColor::fromRgbF(float(window.redF() * (1 - t) + hue.redF() * t),
                                 float(window.greenF() * (1 - t) + hue.greenF() * t),
                                 float(window.blueF() * (1 - t) + hue.blueF() * t));
    QPalette pal = palette();
    pal.setColor(QPalette::Window, bg);
    mApplying = true;   // setPalette sends PaletteChange back to us
    setPalette(pal);
    mApplying = false;
}
