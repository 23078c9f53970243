//! Reads the Prometheus text format a helper serves: just what `top` needs (samples with
//! their labels); comments and malformed lines are skipped, never fatal.

/// One sample: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples(pub Vec<Sample>);

impl Samples {
    pub fn parse(text: &str) -> Samples {
        Samples(text.lines().filter_map(parse_line).collect())
    }

    /// Every sample of `name`.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.0.iter().filter(move |s| s.name == name)
    }

    /// The sum over all label sets of `name`; `None` when the helper has no such metric.
    pub fn sum(&self, name: &str) -> Option<f64> {
        let mut found = false;
        let total = self
            .named(name)
            .inspect(|_| found = true)
            .map(|s| s.value)
            .sum();
        found.then_some(total)
    }
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let (labels, rest) = if line[name_end..].starts_with('{') {
        parse_labels(&line[name_end + 1..])?
    } else {
        (Vec::new(), &line[name_end..])
    };
    // A timestamp may follow the value.
    let value = parse_value(rest.split_whitespace().next()?)?;
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// `k="v",k2="v2"}` → the labels and what follows the brace.
fn parse_labels(mut s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start_matches([',', ' ']);
        if let Some(rest) = s.strip_prefix('}') {
            return Some((labels, rest));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim().to_string();
        let mut chars = s[eq + 1..].strip_prefix('"')?.char_indices();
        let mut value = String::new();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((key, value));
        s = &s[eq + 1 + 1 + end + 1..];
    }
}

fn parse_value(v: &str) -> Option<f64> {
    match v {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        v => v.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_and_without_labels_escapes_and_timestamps() {
        let text = "# HELP x y\n# TYPE x counter\nx 3\n\
                    y{a=\"1\",b=\"q\\\"u\\\\o\\nte\"} 2.5 1700000000\n\
                    h_bucket{le=\"+Inf\"} 7\n";
        let s = Samples::parse(text);
        assert_eq!(s.0.len(), 3);
        assert_eq!(s.0[0].value, 3.0);
        assert_eq!(s.0[1].label("a"), Some("1"));
        assert_eq!(s.0[1].label("b"), Some("q\"u\\o\nte"));
        assert_eq!(s.0[1].value, 2.5);
        assert_eq!(s.0[2].label("le"), Some("+Inf"));
        assert_eq!(s.sum("x"), Some(3.0));
        assert_eq!(s.sum("missing"), None);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let text =
            "x{a=\"1\" 3\nnovalue\ny{a=1} 2\nz{a=\"unterminated} 1\ngood 1\nbad notanumber\n";
        let s = Samples::parse(text);
        assert_eq!(s.0.len(), 1, "{s:?}");
        assert_eq!(s.0[0].name, "good");
    }
}
