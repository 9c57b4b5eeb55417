//! The simulator against theory: every analytic value must lie inside the
//! 99% confidence interval the simulation derives from its own sample.

use patterns::validation;

fn check(rows: Vec<validation::ValidationRow>) {
    for r in &rows {
        println!("{r:?}");
    }
    for r in rows {
        assert!(
            r.pass,
            "{} / {}: simulated {:.6} [{:.6}, {:.6}] does not cover the analytic {:.6} (n = {})",
            r.case, r.quantity, r.simulated, r.ci99_low, r.ci99_high, r.analytic, r.n
        );
        // An interval so wide it could cover anything would make the check
        // meaningless: require it to be within 10% of the value.
        assert!(r.ci99_high - r.ci99_low < 0.2 * r.analytic.abs(), "{}: interval too wide", r.case);
    }
}

#[test]
fn queues_match_mm1_mmc_and_md1() {
    check(validation::queues(7));
}

#[test]
fn littles_law_holds() {
    check(vec![validation::little(7)]);
}

#[test]
fn background_sync_lag_is_half_the_interval() {
    check(vec![validation::sync_lag(7)]);
}

#[test]
fn attempts_per_call_are_geometric() {
    check(vec![validation::retries(7)]);
}

#[test]
fn late_charges_are_lag_over_period() {
    check(vec![validation::billing_anomaly(7)]);
}
