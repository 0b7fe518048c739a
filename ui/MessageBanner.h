// MessageBanner: a dismissable one-line notice across the top of the window (load errors,
// template warnings). Tinted from the palette so it reads in light and dark themes.
#pragma once
#include <QFrame>

class QLabel;

class MessageBanner : public QFrame {
    Q_OBJECT
public:
    enum class Kind { Error, Warning, Info };

    explicit MessageBanner(QWidget* parent = nullptr);

    void showMessage(Kind kind, const QString& text);
    QString text() const;
    Kind kind() const { return mKind; }

protected:
    void changeEvent(QEvent* e) override;

private:
    void applyColors();

    QLabel* mIcon;
    QLabel* mText;
    Kind mKind = Kind::Info;
    bool mApplying = false;
};
