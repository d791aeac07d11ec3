//! Helpers shared by the test modules.

/// The problems of a scenario (and its uncertainty model) that must not be read, each placed
/// at a line of the file, as one message.
pub fn model_errors(text: &str) -> String {
    match sibsim::scenario::parse_with_model("bad.toml", text) {
        Ok(_) => panic!("expected errors in\n{text}"),
        Err(d) => {
            assert!(d.items.iter().all(|i| i.line.is_some()), "{d}");
            d.to_string()
        }
    }
}
