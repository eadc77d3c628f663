//! The durations `#[requires_authentication(max_age = "10m")]` takes: whole units from the
//! largest to the smallest (`d`, `h`, `m`, `s`), each at most once, as in `"1h30m"` or
//! `"600s"`. Ten lines do what a parsing crate would, and the grammar stays this small.

/// The units, largest first, with their length in seconds.
const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// `text` in seconds, or `None` when it is not a duration of this grammar (or overflows).
pub(crate) fn seconds(text: &str) -> Option<u64> {
    let mut rest = text;
    let mut total: u64 = 0;
    // Units must come in order: `next` is the first unit still allowed.
    let mut next = 0;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let number: u64 = rest.get(..digits)?.parse().ok()?;
        let unit = rest.get(digits..)?.chars().next()?;
        let position = UNITS.iter().skip(next).position(|&(name, _)| name == unit)? + next;
        total = total.checked_add(number.checked_mul(UNITS[position].1)?)?;
        next = position + 1;
        rest = &rest[digits + unit.len_utf8()..];
    }
    (!text.is_empty()).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::seconds;

    #[test]
    fn durations() {
        assert_eq!(seconds("600s"), Some(600));
        assert_eq!(seconds("10m"), Some(600));
        assert_eq!(seconds("1h30m"), Some(5_400));
        assert_eq!(seconds("1d2h3m4s"), Some(93_784));
        assert_eq!(seconds("0s"), Some(0));
        for bad in ["", "10", "m", "10 m", "10min", "5m1h", "1m1m", "-1s", "1.5h", "10M", "٣s"] {
            assert_eq!(seconds(bad), None, "{bad:?}");
        }
        assert_eq!(seconds("18446744073709551615d"), None);
    }
}
