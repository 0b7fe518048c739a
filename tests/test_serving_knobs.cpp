// The serving-knob table (engine/serving/serving_knobs.h): every row is complete and consistent
// with serving_config{}, each knob's range is what validate() enforces (the refusal names the
// knob), text round-trips, and the pool-restart knobs are the ones needs_pool_restart() sees.
#include "rl_test.h"

#include "serving/serving_knobs.h"

#include <set>
#include <string>

class TestServingKnobs : public QObject {
    Q_OBJECT
private slots:
    void everyFieldHasOneCompleteRow() {
        std::set<std::string_view> names, flags;
        for (const rl::knob_info& k : rl::serving_knobs()) {
            QVERIFY2(names.insert(k.name).second, std::string(k.name).c_str());
            QVERIFY2(flags.insert(k.flag).second, std::string(k.flag).c_str());
            QCOMPARE(std::string(k.flag), "--" + [&] {
                std::string s(k.name);
                for (char& ch : s) if (ch == '_') ch = '-';
                return s;
            }());
            QVERIFY(!k.help.empty());
            QVERIFY(k.get && k.set);
            QVERIFY2(k.group == "Batching" || k.group == "KV pool" || k.group == "Admission control",
                     std::string(k.name).c_str());
            QVERIFY(k.step > 0);
            if (k.type != rl::knob_type::real) QCOMPARE(k.decimals, 0);
            // A special zero is the bottom of the range (a spin box shows it as its special text).
            if (!k.zero_means.empty()) QCOMPARE(k.min, 0.0);
            if (k.type == rl::knob_type::integer || k.type == rl::knob_type::real) {
                QVERIFY(!k.unit.empty());
                QVERIFY(k.min <= k.max);
            }
            if (k.type == rl::knob_type::choice) QVERIFY(!k.choices.empty());
            QCOMPARE(rl::find_knob(k.name), &k);
            QCOMPARE(rl::find_knob(k.flag), &k);
        }
        // serving_config has 13 fields; each one is a row.
        QCOMPARE(int(names.size()), 13);
        QVERIFY(rl::find_knob("no_such_knob") == nullptr);
    }

    void defaultsAreValidAndComeFromTheStruct() {
        const rl::serving_config d;
        QVERIFY(!rl::validate(d));
        for (const rl::knob_info& k : rl::serving_knobs()) {
            QVERIFY2(!rl::check_knob(k, d), std::string(k.name).c_str());
            QCOMPARE(rl::knob_default_text(k), rl::knob_text(k, d));
        }
        QCOMPARE(rl::knob_default_text(*rl::find_knob("max_num_seqs")), std::string("16"));
        QCOMPARE(rl::knob_default_text(*rl::find_knob("policy")), std::string("priority"));
        QCOMPARE(rl::knob_default_text(*rl::find_knob("prefix_caching")), std::string("true"));
        QCOMPARE(rl::knob_default_text(*rl::find_knob("gpu_memory_utilization")), std::string("0.9"));
    }

    void outOfRangeIsRefusedNamingTheKnob() {
        for (const rl::knob_info& k : rl::serving_knobs()) {
            if (k.type != rl::knob_type::integer && k.type != rl::knob_type::real) continue;
            rl::serving_config above;
            k.set(above, k.max + 1);
            const rl::config_error e = rl::validate(above);
            QVERIFY2(bool(e), std::string(k.name).c_str());
            QCOMPARE(e.field, std::string(k.name));
            QVERIFY2(e.message.find(std::string(k.name)) != std::string::npos, e.message.c_str());
            rl::serving_config below;
            k.set(below, k.min_exclusive ? k.min : k.min - 1);
            const rl::config_error f = rl::validate(below);
            QCOMPARE(f.field, std::string(k.name));
            rl::serving_config at_max;
            k.set(at_max, k.max);
            QVERIFY2(!rl::check_knob(k, at_max), std::string(k.name).c_str());
        }
    }

    void crossFieldRuleNamesTheBudget() {
        rl::serving_config c;
        c.max_num_seqs = 64;
        c.max_num_batched_tokens = 32;
        const auto e = rl::validate(c);
        QCOMPARE(e.field, std::string("max_num_batched_tokens"));
        QVERIFY(e.message.find("max_num_seqs (64)") != std::string::npos);
    }

    void powerOfTwoBlockSize() {
        rl::serving_config c;
        c.block_size = 24;
        QCOMPARE(rl::validate(c).field, std::string("block_size"));
        c.block_size = 32;
        QVERIFY(!rl::validate(c));
    }

    void textRoundTripsAndRefusesGarbage() {
        rl::serving_config c;
        const auto* seqs = rl::find_knob("--max-num-seqs");
        QVERIFY(!rl::set_knob_text(*seqs, "48", c));
        QCOMPARE(c.max_num_seqs, 48);
        QCOMPARE(rl::set_knob_text(*seqs, "4x", c).field, std::string("max_num_seqs"));
        QCOMPARE(rl::set_knob_text(*seqs, "0", c).field, std::string("max_num_seqs"));
        QCOMPARE(c.max_num_seqs, 48);   // a refusal leaves the value as it was
        const auto* policy = rl::find_knob("policy");
        QVERIFY(!rl::set_knob_text(*policy, "fcfs", c));
        QVERIFY(c.policy == rl::schedule_policy::fcfs);
        const auto bad = rl::set_knob_text(*policy, "lifo", c);
        QVERIFY(bad.message.find("fcfs or priority") != std::string::npos);
        const auto* prefix = rl::find_knob("prefix_caching");
        QVERIFY(!rl::set_knob_text(*prefix, "off", c));
        QVERIFY(!c.prefix_caching);
        QVERIFY(bool(rl::set_knob_text(*prefix, "maybe", c)));
        const auto* mem = rl::find_knob("gpu_memory_utilization");
        QVERIFY(!rl::set_knob_text(*mem, "0.5", c));
        QCOMPARE(c.gpu_memory_utilization, 0.5);
        QCOMPARE(rl::set_knob_text(*mem, "0", c).field, std::string("gpu_memory_utilization"));
        QCOMPARE(rl::set_knob_text(*mem, "nan", c).field, std::string("gpu_memory_utilization"));
        QCOMPARE(c.gpu_memory_utilization, 0.5);
        const auto* kv = rl::find_knob("kv_blocks");
        QVERIFY(!rl::set_knob_text(*kv, "0", c));
        QVERIFY(rl::knob_is_zero_special(*kv, c));
        QVERIFY(!rl::set_knob_text(*kv, "512", c));
        QVERIFY(!rl::knob_is_zero_special(*kv, c));
    }

    void groupsAreContiguous() {
        // The panel builds one group box per group in table order: a group must not reappear.
        std::set<std::string_view> closed;
        std::string_view current;
        for (const rl::knob_info& k : rl::serving_knobs()) {
            if (k.group == current) continue;
            QVERIFY2(!closed.count(k.group), std::string(k.group).c_str());
            if (!current.empty()) closed.insert(current);
            current = k.group;
        }
        QCOMPARE(int(closed.size()), 2);   // three groups
    }

    void lowestSettableValueIsValid() {
        for (const rl::knob_info& k : rl::serving_knobs()) {
            if (k.type != rl::knob_type::integer && k.type != rl::knob_type::real) continue;
            rl::serving_config c;
            k.set(c, rl::knob_lowest(k));
            QVERIFY2(!rl::check_knob(k, c), std::string(k.name).c_str());
            if (!k.min_exclusive) QCOMPARE(rl::knob_lowest(k), k.min);
        }
        const auto* mem = rl::find_knob("gpu_memory_utilization");
        QCOMPARE(mem->decimals, 2);
        QCOMPARE(rl::knob_lowest(*mem), 0.01);
    }

    void livePartKeepsThePoolInForce() {
        rl::serving_config in_force;
        in_force.kv_blocks = 300;
        rl::serving_config next;
        next.max_num_seqs = 3;
        next.block_size = 64;
        next.kv_blocks = 0;
        next.gpu_memory_utilization = 0.5;
        QVERIFY(rl::needs_pool_restart(in_force, next));
        const rl::serving_config live = rl::with_pool_of(next, in_force);
        QVERIFY(!rl::needs_pool_restart(in_force, live));
        QCOMPARE(live.max_num_seqs, 3);   // the rest of the change is kept
        QCOMPARE(live.block_size, in_force.block_size);
        QCOMPARE(live.kv_blocks, 300);
        QCOMPARE(live.gpu_memory_utilization, in_force.gpu_memory_utilization);
    }

    void poolRestartFollowsTheTable() {
        for (const rl::knob_info& k : rl::serving_knobs()) {
            if (k.type == rl::knob_type::choice) continue;
            rl::serving_config a, b;
            k.set(b, k.type == rl::knob_type::boolean ? 1 - k.get(a) : k.max);
            QCOMPARE(rl::needs_pool_restart(a, b), k.restarts_pool);
        }
        // The memory share sizes only an automatic pool: with kv_blocks given it restarts nothing.
        rl::serving_config fixed, fixed_less;
        fixed.kv_blocks = fixed_less.kv_blocks = 512;
        fixed_less.gpu_memory_utilization = 0.5;
        QVERIFY(!rl::needs_pool_restart(fixed, fixed_less));
        rl::serving_config to_auto = fixed_less;
        to_auto.kv_blocks = 0;
        QVERIFY(rl::needs_pool_restart(fixed, to_auto));
    }

    void refusedTextLeavesTheValueAndRealsArePanelPrecise() {
        rl::serving_config c;
        const auto* bs = rl::find_knob("block_size");
        QCOMPARE(rl::set_knob_text(*bs, "24", c).field, std::string("block_size"));   // in range, not a power of two
        QCOMPARE(c.block_size, rl::serving_config{}.block_size);
        QCOMPARE(rl::set_knob_text(*bs, "99999999999", c).field, std::string("block_size"));
        QCOMPARE(c.block_size, rl::serving_config{}.block_size);
        const auto* mem = rl::find_knob("gpu_memory_utilization");
        QVERIFY(!rl::set_knob_text(*mem, "0.925", c));
        QCOMPARE(rl::knob_text(*mem, c), std::string("0.93"));   // what the panel's 2 decimals show
        QCOMPARE(rl::knob_range_text(*mem), std::string("(0, 0.98]"));
        QCOMPARE(rl::knob_range_text(*rl::find_knob("max_num_seqs")), std::string("[1, 4096]"));
        QCOMPARE(rl::knob_range_text(*rl::find_knob("policy")), std::string());
    }
};

RL_TEST_MAIN(TestServingKnobs, everyFieldHasOneCompleteRow, defaultsAreValidAndComeFromTheStruct,
             outOfRangeIsRefusedNamingTheKnob, crossFieldRuleNamesTheBudget, powerOfTwoBlockSize,
             textRoundTripsAndRefusesGarbage, groupsAreContiguous, lowestSettableValueIsValid,
             livePartKeepsThePoolInForce, poolRestartFollowsTheTable,
             refusedTextLeavesTheValueAndRealsArePanelPrecise)
#include "test_serving_knobs.moc"
