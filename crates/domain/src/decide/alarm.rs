//! Alarms (`tradai-{env}-drift-moderate`, `-drift-significant`, `-heartbeat-stale`) as OK/ALARM
//! states with hysteresis, so a value wobbling around a threshold does not flap.
//!
//! An alarm enters `ALARM` when the value is at or above `enter`, and returns to `OK` only when
//! the value falls below `exit` (`exit ≤ enter`). Between the two it keeps its state.

use serde::{Deserialize, Serialize};

/// An alarm's state, spelled as CloudWatch does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
}

crate::wire_enum!(AlarmState, "alarm state", {
    Ok => "OK",
    Alarm => "ALARM",
});

/// Enter and exit levels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub enter: f64,
    pub exit: f64,
}

impl Band {
    /// A band whose exit level is `enter × (1 − hysteresis)`; `hysteresis` in [0, 1).
    pub fn with_hysteresis(enter: f64, hysteresis: f64) -> Band {
        Band {
            enter,
            exit: enter * (1.0 - hysteresis.clamp(0.0, 0.99)),
        }
    }
}

/// The next state for a new value. A NaN value (no data) keeps the state.
pub fn next(state: AlarmState, value: f64, band: Band) -> AlarmState {
    if value.is_nan() {
        return state;
    }
    match state {
        AlarmState::Ok if value >= band.enter => AlarmState::Alarm,
        AlarmState::Alarm if value < band.exit => AlarmState::Ok,
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wobbling_does_not_flap() {
        let band = Band::with_hysteresis(0.25, 0.2); // exit at 0.20
        let values = [0.24, 0.26, 0.24, 0.251, 0.21, 0.199, 0.24, 0.25];
        let mut s = AlarmState::Ok;
        let mut seen = vec![];
        for v in values {
            s = next(s, v, band);
            seen.push(s);
        }
        use AlarmState::*;
        assert_eq!(seen, vec![Ok, Alarm, Alarm, Alarm, Alarm, Ok, Ok, Alarm]);
    }

    proptest! {
        /// With hysteresis, a sequence confined inside (exit, enter) never changes state.
        #[test]
        fn no_change_inside_the_band(vals in proptest::collection::vec(0.2001f64..0.2499, 1..50), start_alarm: bool) {
            let band = Band::with_hysteresis(0.25, 0.2);
            let start = if start_alarm { AlarmState::Alarm } else { AlarmState::Ok };
            let mut s = start;
            for v in vals { s = next(s, v, band); }
            prop_assert_eq!(s, start);
        }
    }
}
