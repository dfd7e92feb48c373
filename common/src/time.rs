//! Storage keeps instants as microseconds since the Unix epoch in a BIGINT, the one
//! representation SQLite and PostgreSQL share through sqlx's `Any` driver. The instants
//! come from a [`Clock`]; these are the conversions to the wire's `Timestamp`.

pub use clock::{Clock, micros};

/// A stored instant as a protobuf timestamp.
pub fn micros_to_timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    }
}

/// Seconds since the epoch as a protobuf timestamp.
pub fn secs_to_timestamp(secs: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: secs,
        nanos: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_convert_with_floor_semantics() {
        let ts = micros_to_timestamp(1_500_000);
        assert_eq!((ts.seconds, ts.nanos), (1, 500_000_000));
        let ts = micros_to_timestamp(-1);
        assert_eq!((ts.seconds, ts.nanos), (-1, 999_999_000));
    }
}
