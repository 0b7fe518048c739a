// test_serving_panel: the serving panel is the knob table's (engine/serving/serving_knobs.h).
// Every row, and nothing else, has a control named after it whose kind, range, unit, help and
// special zero are the row's, in its group's box, with a refusal label under it; values go in and
// out through the rows' get/set; "auto" shows what the engine resolved. A number typed outside a
// control's range reaches the one validator (ServingController -> rl::validate) and its refusal
// shows under that knob's control and no other. No model is needed.
// Run: QT_QPA_PLATFORM=offscreen ./build/tests/test_serving_panel   (label gui)
#include "rl_test.h"

#include "MainWindow.h"
#include "ServingController.h"
#include "ServingPanel.h"
#include "SettingsStore.h"
#include "serving/serving_knobs.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QGroupBox>
#include <QLabel>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>

#include <cmath>
#include <memory>

namespace {
QString words(std::string_view s) { return QString::fromUtf8(s.data(), qsizetype(s.size())); }
} // namespace

class TestServingPanel : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup();
    void panelFollowsTheKnobTable();
    void outOfRangeTypedIsRefusedUnderItsField();

private:
    ServingPanel* panel() const { return mWindow->servingPanel(); }
    template <class T> T* child(const char* name) const { return mWindow->findChild<T*>(QLatin1String(name)); }
    /// Selects the number in a spin box, types text and presses Enter, as a person would.
    static void typeInto(QAbstractSpinBox* box, const QString& text);

    std::unique_ptr<QTemporaryDir> mDir;
    MainWindow* mWindow = nullptr;
};

void TestServingPanel::init() {
    mDir = std::make_unique<QTemporaryDir>();
    QVERIFY(mDir->isValid());
    qputenv("RIDGELINE_DATA_DIR", mDir->path().toLocal8Bit());
    mWindow = new MainWindow;
    mWindow->show();
    QVERIFY(QTest::qWaitForWindowExposed(mWindow));
}

void TestServingPanel::cleanup() {
    delete mWindow;
    mWindow = nullptr;
    mDir.reset();
}

void TestServingPanel::typeInto(QAbstractSpinBox* box, const QString& text) {
    box->selectAll();
    QTest::keyClicks(box, text);
    QTest::keyClick(box, Qt::Key_Return);
}

void TestServingPanel::panelFollowsTheKnobTable() {
    // Every row of the knob table, and nothing else, has a control named after it whose kind,
    // range, unit, help and special zero are the row's, with a refusal label under it.
    ServingPanel* panel = this->panel();
    QStringList groups;
    for (const rl::knob_info& k : rl::serving_knobs()) {
        const QString name = words(k.name);
        QWidget* w = panel->findChild<QWidget*>(name);
        QVERIFY2(w && w == panel->control(name), qPrintable(name));
        QCOMPARE(w->toolTip(), words(k.help));
        QVERIFY2(panel->reasonLabel(name) && panel->reasonLabel(name)->objectName() == QStringLiteral("reason_") + name,
                 qPrintable(name));
        if (!groups.contains(words(k.group))) groups << words(k.group);
        auto* box = qobject_cast<QGroupBox*>(w->parentWidget()->parentWidget());
        QVERIFY2(box && box->title() == words(k.group), qPrintable(name));   // in its group's box
        switch (k.type) {
        case rl::knob_type::boolean:
            QVERIFY2(qobject_cast<QCheckBox*>(w), qPrintable(name));
            break;
        case rl::knob_type::choice: {
            auto* c = qobject_cast<QComboBox*>(w);
            QVERIFY2(c, qPrintable(name));
            QCOMPARE(c->count(), int(k.choices.size()));
            for (int i = 0; i < c->count(); ++i) QCOMPARE(c->itemData(i).toString(), words(k.choices[size_t(i)]));
            QCOMPARE(c->isEnabled(), k.choices.size() > 1);
            break;
        }
        case rl::knob_type::integer:
            if (k.power_of_two) {
                auto* c = qobject_cast<QComboBox*>(w);
                QVERIFY2(c, qPrintable(name));
                QCOMPARE(c->itemData(0).toInt(), int(k.min));
                QCOMPARE(c->itemData(c->count() - 1).toInt(), int(k.max));
                for (int i = 1; i < c->count(); ++i) QCOMPARE(c->itemData(i).toInt(), 2 * c->itemData(i - 1).toInt());
            } else {
                auto* sb = qobject_cast<QSpinBox*>(w);
                QVERIFY2(sb, qPrintable(name));
                QCOMPARE(sb->minimum(), int(k.min));
                QCOMPARE(sb->maximum(), int(k.max));
                QCOMPARE(sb->suffix(), QLatin1Char(' ') + words(k.unit));
                QCOMPARE(sb->specialValueText(), words(k.zero_means));
            }
            break;
        case rl::knob_type::real: {
            auto* sb = qobject_cast<QDoubleSpinBox*>(w);
            QVERIFY2(sb, qPrintable(name));
            QCOMPARE(sb->decimals(), k.decimals);
            QCOMPARE(sb->minimum(), rl::knob_lowest(k));   // (0, max] at two decimals starts at 0.01
            QCOMPARE(sb->maximum(), k.max);
            QCOMPARE(sb->suffix(), QLatin1Char(' ') + words(k.unit));
            QCOMPARE(sb->specialValueText(), words(k.zero_means));
            break;
        }
        }
    }
    QCOMPARE(panel->findChildren<QGroupBox*>().size(), groups.size());
    QVERIFY(panel->control(QStringLiteral("no_such_knob")) == nullptr);

    // Values travel through the table's get/set both ways: a config unlike the defaults in every
    // knob that has a choice comes back from the controls unchanged.
    rl::serving_config c;
    c.max_num_seqs = 3;
    c.max_num_batched_tokens = 96;
    c.chunked_prefill = false;
    c.policy = rl::schedule_policy::fcfs;
    c.kv_blocks = 640;
    c.block_size = 64;
    c.prefix_caching = false;
    c.gpu_memory_utilization = 0.55;
    c.max_waiting = 9;
    c.max_queue_ms = 1500;
    panel->setConfig(c, c);
    const rl::serving_config back = panel->controlsConfig();
    for (const rl::knob_info& k : rl::serving_knobs()) QCOMPARE(k.get(back), k.get(c));
    // "auto" shows what the engine resolved it to, when there is such a value.
    rl::serving_config autoPool = c;
    autoPool.kv_blocks = 0;
    panel->setConfig(autoPool, c);
    QCOMPARE(child<QSpinBox>("kv_blocks")->text(), QStringLiteral("auto (640)"));
    panel->setConfig(autoPool, autoPool);
    QCOMPARE(child<QSpinBox>("kv_blocks")->text(), QStringLiteral("auto"));
    QCOMPARE(panel->controlsConfig().kv_blocks, 0);
}

void TestServingPanel::outOfRangeTypedIsRefusedUnderItsField() {
    // A number typed outside a control's range is not swallowed by the spin box: the controller's
    // validator refuses it, and the reason shows under that knob's control and no other.
    ServingPanel* panel = this->panel();
    QSignalSpy refused(mWindow->serving(), &ServingController::refused);
    const rl::serving_config before = mWindow->serving()->config();
    int tried = 0;
    for (const rl::knob_info& k : rl::serving_knobs()) {
        if ((k.type != rl::knob_type::integer && k.type != rl::knob_type::real) || k.power_of_two) continue;
        const QString name = words(k.name);
        auto* box = qobject_cast<QAbstractSpinBox*>(panel->control(name));
        QVERIFY2(box, qPrintable(name));
        const QString shown = box->text();
        const double lowest = rl::knob_lowest(k);
        for (double v : {k.max + 1, lowest - (k.type == rl::knob_type::real ? std::pow(10.0, -k.decimals) : 1)}) {
            QLocale typing = box->locale();   // as a person types it: no group separators
            typing.setNumberOptions(QLocale::OmitGroupSeparator);
            const QString typed = typing.toString(v, 'f', k.decimals);
            typeInto(box, typed);
            ++tried;
            QVERIFY2(refused.count() == tried, qPrintable(name + QLatin1Char(' ') + typed));
            QCOMPARE(refused.last().at(0).toString(), name);
            QLabel* reason = panel->reasonLabel(name);
            QVERIFY2(reason->isVisibleTo(panel), qPrintable(name));
            QVERIFY2(reason->text().startsWith(name + QStringLiteral(" must be in ")), qPrintable(reason->text()));
            for (const rl::knob_info& other : rl::serving_knobs())
                if (other.name != k.name) QVERIFY(!panel->reasonLabel(words(other.name))->isVisibleTo(panel));
            QCOMPARE(box->text(), shown);   // the control went back to the value in force
        }
    }
    QCOMPARE(tried, 2 * 8);   // eight number knobs, above and below each range
    for (const rl::knob_info& k : rl::serving_knobs()) QCOMPARE(k.get(mWindow->serving()->config()), k.get(before));
    QCOMPARE(mWindow->settings()->serving().max_num_seqs, before.max_num_seqs);
}

QTEST_MAIN(TestServingPanel)
#include "test_serving_panel.moc"
