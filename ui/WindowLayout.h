// WindowLayout: where the main window's docks go and how that is kept. Two arrangements, both
// sized from the window's current size so they fit from 1280x720 up without a dock drawn over
// another: the default (left column Model / Device / KV blocks as tabs; right column Serving /
// Load generator / API server as tabs over the Roofline; Plots under the chat) and Demo (big
// plots, the chat and the roofline; the other docks hidden). The geometry and dock state are
// restored at start (a state saved by an older arrangement, kStateVersion, is ignored; one saved
// from a window more than 10% larger or smaller than the one shown keeps its arrangement but
// takes the default shares); with none saved the window takes the screen's available area. While the window runs, a timer writes the
// layout to the SettingsStore every kAutosaveMs when it changed, so it survives kill -9.
// Exercise: tests/test_window_layout.cpp.
#pragma once
#include <QByteArray>
#include <QObject>
#include <QSize>
#include <QTimer>

class QDockWidget;
class QMainWindow;
class SettingsStore;

class WindowLayout : public QObject {
    Q_OBJECT
public:
    static constexpr int kAutosaveMs = 3000;
    static constexpr int kStateVersion = 2;   // bump when the default arrangement changes

    struct Docks {
        QDockWidget* model = nullptr;
        QDockWidget* device = nullptr;
        QDockWidget* kv = nullptr;
        QDockWidget* serving = nullptr;
        QDockWidget* load = nullptr;
        QDockWidget* server = nullptr;
        QDockWidget* roofline = nullptr;
        QDockWidget* plots = nullptr;
    };

    WindowLayout(QMainWindow* window, const Docks& docks, SettingsStore* settings);

    /// The saved geometry and dock state; else the default arrangement on the available screen.
    void restoreOrFit();
    /// Puts every dock back in the default arrangement, all shown.
    void applyDefault();
    /// Plots, chat and roofline get the room; the other docks are hidden (View menu brings them back).
    void applyDemo();
    /// Writes the layout to the settings when it changed since the last write.
    void saveIfChanged();

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    enum class Sizing { None, Default, Demo };
    void arrangeDefault();
    void applySizes();

    QMainWindow* mWindow;
    Docks mDocks;
    SettingsStore* mSettings;
    QTimer mAutosave;
    QByteArray mSavedGeometry, mSavedState;
    Sizing mPending = Sizing::None;   // sizes wait until the window has its real size
    QSize mRestoredSize;              // the size restored with the saved geometry, until shown
};
