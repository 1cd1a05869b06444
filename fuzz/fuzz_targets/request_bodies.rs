//! JSON bodies of the API and the CLI's spec files as a stranger writes them: a task's
//! options, an experiment's spec (as JSON and as TOML), a budget. Read or refused; what is read
//! writes back to JSON that reads the same.
#![no_main]

use aibt_engine::experiment::ExperimentSpec;
use aibt_engine::task::TaskOptions;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(options) = serde_json::from_str::<TaskOptions>(text) {
        let json = serde_json::to_string(&options).expect("options write");
        let back: TaskOptions = serde_json::from_str(&json).expect("options read back");
        assert_eq!(back, options, "{text:?}");
    }
    if let Ok(spec) = serde_json::from_str::<ExperimentSpec>(text) {
        let json = serde_json::to_string(&spec).expect("spec writes");
        let back: ExperimentSpec = serde_json::from_str(&json).expect("spec reads back");
        assert_eq!(back, spec, "{text:?}");
    }
    let _ = ExperimentSpec::from_toml(text);
    let _ = serde_json::from_str::<aibt_engine::budget::Budget>(text);
});
