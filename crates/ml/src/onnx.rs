//! ONNX models trained elsewhere, run by tract (pure Rust, no native runtime).
//!
//! The graph is loaded once, its input fixed to `f32 [1, n_features]`, optimised, and checked
//! by running it on a zero vector: a graph that does not give exactly one finite-or-NaN value
//! is refused at load time, not at the first candle.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::error::MlError;
use crate::serving::OnnxManifest;

/// A loaded ONNX model.
#[derive(Clone)]
pub struct OnnxModel {
    manifest: OnnxManifest,
    plan: Arc<TypedSimplePlan>,
    width: usize,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("manifest", &self.manifest)
            .field("width", &self.width)
            .finish_non_exhaustive()
    }
}

fn artifact(file: &Path, what: &str, e: impl std::fmt::Display) -> MlError {
    MlError::Artifact(format!("{}: {what}: {e}", file.display()))
}

impl OnnxModel {
    /// Loads `dir/{manifest.model_file}` for `manifest`'s feature set.
    pub fn load(dir: &Path, manifest: OnnxManifest) -> Result<Self, MlError> {
        let file = dir.join(&manifest.model_file);
        if !file.is_file() {
            return Err(MlError::Artifact(format!(
                "{}: model_file named by the manifest does not exist",
                file.display()
            )));
        }
        let width = manifest.feature_set.len();
        let plan = tract_onnx::onnx()
            .model_for_path(&file)
            .map_err(|e| artifact(&file, "not a readable ONNX model", e))?
            .with_input_fact(0, f32::fact([1, width]).into())
            .map_err(|e| artifact(&file, "input 0", e))?
            .into_optimized()
            .map_err(|e| {
                artifact(
                    &file,
                    &format!(
                        "cannot run it on an f32 [1, {width}] input (the manifest's features)"
                    ),
                    e,
                )
            })?
            .into_runnable()
            .map_err(|e| artifact(&file, "cannot plan it", e))?;
        let model = OnnxModel {
            manifest,
            plan,
            width,
        };
        model
            .run(&vec![0.0; width])
            .map_err(|e| artifact(&file, "a test run on zeros failed", e))?;
        Ok(model)
    }

    /// The manifest.
    pub fn manifest(&self) -> &OnnxManifest {
        &self.manifest
    }

    fn run(&self, features: &[f64]) -> Result<f64, String> {
        let input: Vec<f32> = features.iter().map(|&x| x as f32).collect();
        let tensor = tract_ndarray::Array2::from_shape_vec((1, self.width), input)
            .map_err(|e| e.to_string())?;
        let out = self
            .plan
            .run(tvec!(Tensor::from(tensor).into()))
            .map_err(|e| e.to_string())?;
        let first = out.first().ok_or("the model gave no output")?;
        let view = first
            .to_plain_array_view::<f32>()
            .map_err(|e| format!("output is not f32: {e}"))?;
        if view.len() != 1 {
            return Err(format!(
                "output has {} values (shape {:?}); expected one prediction",
                view.len(),
                view.shape()
            ));
        }
        view.iter()
            .next()
            .map(|&y| f64::from(y))
            .ok_or_else(|| "empty output".to_string())
    }

    /// Predicts from one feature vector; NaN for wrong length, non-finite input or a failed
    /// run, never a panic. (The graph ran at load time, so a failed run is rare; the NaN is
    /// logged by the runner with the version, and the signal rule holds.)
    pub fn predict(&self, features: &[f64]) -> f64 {
        if features.len() != self.width || features.iter().any(|v| !v.is_finite()) {
            return f64::NAN;
        }
        self.run(features).unwrap_or(f64::NAN)
    }
}

/// One dense layer `y = x · weights + bias`, optionally followed by ReLU.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    /// Row-major `[inputs, outputs]`.
    pub weights: Vec<f32>,
    /// `[outputs]`.
    pub bias: Vec<f32>,
    /// Inputs of the layer.
    pub inputs: usize,
    /// Apply ReLU after the layer.
    pub relu: bool,
}

/// Encodes a feed-forward network of dense layers as an ONNX model (opset 13: `MatMul`, `Add`,
/// `Relu`), input `features` `f32 [1, n]`, output `prediction`. This is the shape a linear model
/// or small MLP exported from scikit-learn or PyTorch has; tradai uses it to make real ONNX files
/// for its tests and examples without a Python toolchain.
pub fn dense_graph(layers: &[Dense]) -> Result<Vec<u8>, MlError> {
    use prost::Message;
    use tract_onnx::pb::{
        GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, TypeProto,
        ValueInfoProto, tensor_proto::DataType, type_proto,
    };
    let Some(first) = layers.first() else {
        return Err(MlError::Config(
            "an ONNX graph needs at least one layer".into(),
        ));
    };
    let value = |name: &str| ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: None,
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let node = |op: &str, inputs: &[&str], output: &str| NodeProto {
        op_type: op.into(),
        name: output.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    };
    let mut graph = GraphProto {
        name: "tradai-dense".into(),
        input: vec![value("features")],
        ..Default::default()
    };
    let mut x = "features".to_string();
    let mut width = first.inputs;
    for (i, l) in layers.iter().enumerate() {
        let outputs = l.bias.len();
        if l.inputs != width || outputs == 0 || l.weights.len() != l.inputs * outputs {
            return Err(MlError::Config(format!(
                "layer {i}: {} weights for {} inputs and {outputs} outputs (input width {width})",
                l.weights.len(),
                l.inputs
            )));
        }
        let (w, b) = (format!("w{i}"), format!("b{i}"));
        graph.initializer.push(TensorProto {
            name: w.clone(),
            dims: vec![l.inputs as i64, outputs as i64],
            data_type: DataType::Float as i32,
            float_data: l.weights.clone(),
            ..Default::default()
        });
        graph.initializer.push(TensorProto {
            name: b.clone(),
            dims: vec![outputs as i64],
            data_type: DataType::Float as i32,
            float_data: l.bias.clone(),
            ..Default::default()
        });
        let last = i + 1 == layers.len();
        let (mm, add) = (format!("matmul{i}"), format!("add{i}"));
        graph.node.push(node("MatMul", &[&x, &w], &mm));
        let added = if last && !l.relu {
            "prediction".to_string()
        } else {
            add
        };
        graph.node.push(node("Add", &[&mm, &b], &added));
        x = added;
        if l.relu {
            let r = if last {
                "prediction".to_string()
            } else {
                format!("relu{i}")
            };
            graph.node.push(node("Relu", &[&x], &r));
            x = r;
        }
        width = outputs;
    }
    graph.output.push(value("prediction"));
    let model = ModelProto {
        ir_version: 7,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
        producer_name: "tradai".into(),
        graph: Some(graph),
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}
