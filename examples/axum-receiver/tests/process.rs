//! The example receiver, run as a process the way the README starts it
//! (the checks live in hookgate-conformance, shared by every example).

use hookgate_conformance::process as check;

const BIN: &str = env!("CARGO_BIN_EXE_axum-receiver");

#[test]
fn without_secrets_it_names_the_variable_and_the_dev_flag_and_exits() {
    check::without_secrets_it_names_the_variable_and_the_dev_flag_and_exits(BIN);
}

#[test]
fn an_empty_secret_is_refused_even_with_the_other_one_set() {
    check::an_empty_secret_is_refused_even_with_the_other_one_set(BIN);
}

#[tokio::test]
async fn with_dev_secrets_it_accepts_signed_deliveries_and_refuses_forged_ones() {
    check::with_dev_secrets_it_accepts_signed_deliveries_and_refuses_forged_ones(BIN).await;
}

#[tokio::test]
async fn secrets_from_the_environment_replace_the_dev_ones_and_rotation_works() {
    check::secrets_from_the_environment_replace_the_dev_ones_and_rotation_works(BIN).await;
}

#[tokio::test]
async fn a_redelivered_event_is_answered_as_a_duplicate() {
    check::a_redelivered_event_is_answered_as_a_duplicate(BIN).await;
}

#[tokio::test]
async fn with_inbox_a_delivery_is_stored_acknowledged_and_handled() {
    check::with_inbox_a_delivery_is_stored_acknowledged_and_handled(BIN).await;
}

#[tokio::test]
async fn deleting_the_inbox_file_under_a_running_receiver_answers_503() {
    check::deleting_the_inbox_file_under_a_running_receiver_answers_503(BIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_load_loses_no_acknowledged_event() {
    check::kill_9_during_a_load_loses_no_acknowledged_event(BIN).await;
}

#[tokio::test]
async fn metrics_are_served_as_prometheus_text() {
    check::metrics_are_served_as_prometheus_text(BIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_slow_connections_are_closed_within_the_timeouts() {
    check::idle_and_slow_connections_are_closed_within_the_timeouts(BIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_delivery_in_flight_finish_then_exits() {
    check::sigterm_lets_a_delivery_in_flight_finish_then_exits(BIN).await;
}
