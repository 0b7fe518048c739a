// ServerPanel: the "API server" dock. An enable checkbox, host, port (0 = any free port) and
// API key, and one status line (where it listens, why it is not running). Thin: edits go to the
// ServerController, which decides and answers through stateChanged. Without the server library
// the controls are disabled and the status says how to get it.
// Exercise: tests/test_server_panel.cpp.
#pragma once
#include <QWidget>

class QCheckBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class ServerController;

class ServerPanel : public QWidget {
    Q_OBJECT
public:
    explicit ServerPanel(ServerController* controller, QWidget* parent = nullptr);

private:
    void showState();
    void applyEdits();

    ServerController* mController;
    QCheckBox* mEnabled;
    QLineEdit* mHost;
    QSpinBox* mPort;
    QLineEdit* mKey;
    QPushButton* mApply;
    QLabel* mStatus;
};
