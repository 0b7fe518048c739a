// WindowLayout: the dock arrangements, first-run fit and layout autosave (see WindowLayout.h).
#include "WindowLayout.h"

#include "SettingsStore.h"

#include <QDockWidget>
#include <QEvent>
#include <QMainWindow>
#include <QScreen>
#include <QStyle>

#include <algorithm>
#include <cstdlib>
#include <utility>

WindowLayout::WindowLayout(QMainWindow* window, const Docks& docks, SettingsStore* settings)
    : QObject(window), mWindow(window), mDocks(docks), mSettings(settings) {
    // Side columns run the full height; the plots sit under the chat.
    mWindow->setCorner(Qt::BottomLeftCorner, Qt::LeftDockWidgetArea);
    mWindow->setCorner(Qt::BottomRightCorner, Qt::RightDockWidgetArea);
    mWindow->installEventFilter(this);
    // A timer rather than a save on every dock move: dragging a splitter emits dozens of changes,
    // and comparing the bytes catches changes Qt sends no signal for (a splitter, a tab raised).
    mAutosave.setInterval(kAutosaveMs);
    connect(&mAutosave, &QTimer::timeout, this, &WindowLayout::saveIfChanged);
    mAutosave.start();
}

void WindowLayout::restoreOrFit() {
    const QByteArray geometry = mSettings->windowBytes("geometry");
    const QByteArray state = mSettings->windowBytes("state");
    arrangeDefault();
    if (mWindow->restoreState(state, kStateVersion)) {
        mPending = Sizing::None;
        mSavedState = state;
    }
    if (mWindow->restoreGeometry(geometry)) {
        mSavedGeometry = geometry;
        mRestoredSize = mWindow->size();
        return;
    }
    // First run (or geometry from another screen set-up Qt refused): take the available area,
    // less the title bar the window manager adds around it.
    const QRect avail = mWindow->screen()->availableGeometry();
    const int title = mWindow->style()->pixelMetric(QStyle::PM_TitleBarHeight);
    mWindow->resize(avail.width(), std::max(240, avail.height() - title));
    mWindow->move(avail.topLeft());
}

void WindowLayout::arrangeDefault() {
    const Docks& d = mDocks;
    const QList<QDockWidget*> all{d.model, d.device, d.kv, d.serving, d.load, d.server, d.roofline, d.plots};
    for (QDockWidget* w : all) {
        if (w->isFloating()) w->setFloating(false);
        mWindow->removeDockWidget(w);
    }
    mWindow->addDockWidget(Qt::LeftDockWidgetArea, d.model);
    mWindow->tabifyDockWidget(d.model, d.device);
    mWindow->tabifyDockWidget(d.model, d.kv);
    mWindow->addDockWidget(Qt::RightDockWidgetArea, d.serving);
    // Split before tabbing: splitting a dock that is already a tab only adds another tab.
    mWindow->splitDockWidget(d.serving, d.roofline, Qt::Vertical);
    mWindow->tabifyDockWidget(d.serving, d.load);
    mWindow->tabifyDockWidget(d.serving, d.server);
    mWindow->addDockWidget(Qt::BottomDockWidgetArea, d.plots);
    for (QDockWidget* w : all) w->show();
    d.model->raise();
    d.serving->raise();
    mPending = Sizing::Default;
}

void WindowLayout::applyDefault() {
    arrangeDefault();
    if (mWindow->isVisible()) applySizes();
}

void WindowLayout::applyDemo() {
    arrangeDefault();
    const Docks& d = mDocks;
    for (QDockWidget* w : {d.model, d.device, d.kv, d.serving, d.load, d.server}) w->hide();
    mPending = Sizing::Demo;
    if (mWindow->isVisible()) applySizes();
}

void WindowLayout::applySizes() {
    // Shares of the window, bounded so small screens keep usable columns and large ones do not
    // waste room on forms; resizeDocks() then clamps to each dock's minimum.
    const int w = mWindow->width(), h = mWindow->height();
    const Docks& d = mDocks;
    if (mPending == Sizing::Default) {
        const int left = std::clamp(w * 18 / 100, 200, 340);
        const int right = std::clamp(w * 26 / 100, 280, 460);
        mWindow->resizeDocks({d.model, d.serving}, {left, right}, Qt::Horizontal);
        mWindow->resizeDocks({d.serving, d.roofline}, {h * 55 / 100, h * 45 / 100}, Qt::Vertical);
        mWindow->resizeDocks({d.plots}, {h * 50 / 100}, Qt::Vertical);
    } else if (mPending == Sizing::Demo) {
        mWindow->resizeDocks({d.roofline}, {std::clamp(w * 30 / 100, 300, 700)}, Qt::Horizontal);
        mWindow->resizeDocks({d.plots}, {h * 58 / 100}, Qt::Vertical);
    }
    mPending = Sizing::None;
}

void WindowLayout::saveIfChanged() {
    if (!mWindow->testAttribute(Qt::WA_WState_ExplicitShowHide) && !mWindow->isVisible()) return;   // never shown
    const QByteArray geometry = mWindow->saveGeometry();
    const QByteArray state = mWindow->saveState(kStateVersion);
    if (geometry == mSavedGeometry && state == mSavedState) return;
    mSavedGeometry = geometry;
    mSavedState = state;
    mSettings->setWindowBytes("geometry", geometry);
    mSettings->setWindowBytes("state", state);
}

bool WindowLayout::eventFilter(QObject* watched, QEvent* event) {
    if (watched != mWindow || event->type() != QEvent::Show) return QObject::eventFilter(watched, event);
    // A restored state holds the dock sizes of the window it was saved from. Shown much smaller
    // or larger (another screen, --size), those sizes squeeze the chat: take the shares instead,
    // keeping which docks are where.
    const QSize saved = std::exchange(mRestoredSize, QSize());
    if (mPending == Sizing::None && saved.isValid() &&
        (std::abs(saved.width() - mWindow->width()) * 10 > saved.width() ||
         std::abs(saved.height() - mWindow->height()) * 10 > saved.height()))
        mPending = Sizing::Default;
    // Dock sizes are shares of the window: apply them once the window has the size it is shown at.
    if (mPending != Sizing::None) QTimer::singleShot(0, this, [this] { applySizes(); });
    return QObject::eventFilter(watched, event);
}
