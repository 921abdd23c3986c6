//! ncnn's text graph (`.param`): a magic line, the layer and blob counts, then one layer a
//! line — type, name, input and output blob counts, their names, and `key=value`
//! parameters (`-233xx=n,v0,v1,…` for arrays).

use std::collections::HashMap;

use crate::UpscaleError;

/// One parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A whole number.
    Int(i64),
    /// A number with a point or an exponent.
    Float(f32),
    /// An array (`-23310=1,0.2` is array 10 of one value).
    Array(Vec<f32>),
}

/// One layer as the graph describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerDesc {
    /// `Convolution`, `PReLU`, `Interp`, ….
    pub kind: String,
    /// Its name (for messages).
    pub name: String,
    /// Blobs it reads.
    pub bottoms: Vec<String>,
    /// Blobs it writes.
    pub tops: Vec<String>,
    /// Its parameters by key.
    pub params: HashMap<i32, Value>,
}

impl LayerDesc {
    /// Integer parameter `key`, or `default` when absent.
    pub fn int(&self, key: i32, default: i64) -> i64 {
        match self.params.get(&key) {
            Some(Value::Int(v)) => *v,
            Some(Value::Float(v)) => *v as i64,
            _ => default,
        }
    }

    /// Number parameter `key`, or `default` when absent.
    pub fn float(&self, key: i32, default: f32) -> f32 {
        match self.params.get(&key) {
            Some(Value::Int(v)) => *v as f32,
            Some(Value::Float(v)) => *v,
            _ => default,
        }
    }

    /// Array parameter `key` (empty when absent).
    pub fn array(&self, key: i32) -> &[f32] {
        match self.params.get(&key) {
            Some(Value::Array(v)) => v,
            _ => &[],
        }
    }
}

/// The magic number of the text format.
const MAGIC: &str = "7767517";

/// Parses a `.param` file's text.
pub fn parse(text: &str) -> Result<Vec<LayerDesc>, UpscaleError> {
    let bad = |line: usize, why: &str| UpscaleError::Graph(format!("line {line}: {why}"));
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    match lines.next() {
        Some((_, l)) if l.trim() == MAGIC => {}
        _ => return Err(bad(1, "not an ncnn .param file (magic 7767517 missing)")),
    }
    let (n, counts) = lines.next().ok_or_else(|| bad(2, "no layer count"))?;
    let layer_count: usize = counts
        .split_whitespace()
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad(n + 1, "no layer count"))?;
    let mut layers = Vec::with_capacity(layer_count);
    for (n, line) in lines {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        if tokens.len() < 4 {
            return Err(bad(n + 1, "a layer needs a type, a name and blob counts"));
        }
        let count = |t: &str| t.parse::<usize>().map_err(|_| bad(n + 1, "bad blob count"));
        let (nb, nt) = (count(tokens[2])?, count(tokens[3])?);
        if tokens.len() < 4 + nb + nt {
            return Err(bad(n + 1, "fewer blob names than counted"));
        }
        let mut params = HashMap::new();
        for kv in &tokens[4 + nb + nt..] {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| bad(n + 1, "a parameter is not key=value"))?;
            let k: i32 = k.parse().map_err(|_| bad(n + 1, "a parameter key"))?;
            let value = if k <= -23300 {
                let values: Result<Vec<f32>, _> = v.split(',').skip(1).map(str::parse).collect();
                (
                    -k - 23300,
                    Value::Array(values.map_err(|_| bad(n + 1, "an array"))?),
                )
            } else if v.contains(['.', 'e', 'E']) {
                (
                    k,
                    Value::Float(v.parse().map_err(|_| bad(n + 1, "a number"))?),
                )
            } else {
                (
                    k,
                    Value::Int(v.parse().map_err(|_| bad(n + 1, "a number"))?),
                )
            };
            params.insert(value.0, value.1);
        }
        layers.push(LayerDesc {
            kind: tokens[0].to_string(),
            name: tokens[1].to_string(),
            bottoms: tokens[4..4 + nb].iter().map(|s| s.to_string()).collect(),
            tops: tokens[4 + nb..4 + nb + nt]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            params,
        });
    }
    if layers.len() != layer_count {
        return Err(UpscaleError::Graph(format!(
            "{} layers listed, {layer_count} announced",
            layers.len()
        )));
    }
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_blobs_and_parameters_are_read() {
        let text = "7767517\n3 4\nInput in 0 1 data\n\
                    Convolution c 1 1 data x 0=64 1=3 4=1 5=1 6=1728 9=2 -23310=1,2.000000e-01\n\
                    Interp up 1 1 x output 0=3 1=5.000000e-01 2=5.000000e-01\n";
        let layers = parse(text).unwrap();
        assert_eq!(layers.len(), 3);
        let c = &layers[1];
        assert_eq!(
            (c.kind.as_str(), c.int(0, 0), c.int(6, 0)),
            ("Convolution", 64, 1728)
        );
        assert_eq!(c.array(10), &[0.2]);
        assert_eq!(layers[2].float(1, 1.0), 0.5);
        assert_eq!(layers[2].bottoms, vec!["x"]);
    }

    #[test]
    fn a_file_that_is_not_a_graph_is_refused() {
        assert!(parse("hello\n").is_err());
        assert!(parse("7767517\n2 2\nInput in 0 1 data\n").is_err());
    }
}
