//! The GPU engine of the MRI half: WGSL compute shaders run with `wgpu`, on WebGPU in the
//! browser's worker and on Vulkan natively (a real GPU, or lavapipe, Mesa's software Vulkan, in
//! the tests). It mirrors the CPU modules it replaces, one concept a file, each with its shader
//! in `shaders/` under the same name:
//!
//! - [`GpuContext`] (this file): the adapter, the device, compiled pipelines, buffers, dispatches
//!   and read-backs; a lost device or an uncaptured error (validation, out of memory) is
//!   recorded, never a panic, so that the worker can fall back to the CPU.
//! - [`operator`]: the [`operator::GpuOperator`] trait, linear maps on complex buffers with
//!   their adjoints.
//! - [`fourier`]: [`fourier::GpuFourier2`], the unitary 2-D DFT
//!   `(Fx)[u, v] = (1/N) Σ_{y,x} x[y, x] e^{−2πi(uy + vx)/N}` in place (power-of-two `N ≤ 256`).
//! - [`sampling`]: [`sampling::GpuSampling`], `A = P_Ω F` and `A* = F⁻¹ P_Ωᵀ`.
//! - [`wavelet`]: [`wavelet::GpuWavelet2`], the orthogonal periodic wavelet transform `W` (Mallat
//!   layout), and [`wavelet::GpuWaveletSampling`], `B = A W⁻¹` and `B* = W A*`.
//! - [`vector`]: element-wise operations and two-pass reductions (`Re⟨a, b⟩` into a slot read by
//!   later kernels, never by the CPU).
//! - [`firenet`]: FIRENET's restarted primal–dual layers and their reverse mode.
//! - [`conv::GpuConv`]: a 3×3 convolution (zero padding 1, bias, fused ReLU) on planar
//!   `[C, N, N]` images and its input gradient (the transposed convolution, fused with the
//!   backward of the ReLU before it); the layers of the cascade.
//! - [`cascade::GpuCascade`]: the deep cascade of [`crate::mri::learned::cascade`]
//!   (`xᵢ = DC(xᵢ₋₁ + CNNᵢ(xᵢ₋₁))`, `DC(x̂) = F⁻¹((1 − M) ⊙ F x̂ + M ⊙ k₀)`) from the same
//!   safetensors weights, with its vector–Jacobian product in `y` on the activations the
//!   forward keeps; `shaders/cascade.wgsl` is its glue (layouts, residual, data consistency).
//! - [`engine`]: [`GpuEngine`], the [`crate::engine::Engine`] seam on these kernels.
//!
//! # Layouts
//!
//! A complex vector is an `array<vec2<f32>>` (real, imaginary), the memory layout of
//! [`Complex32`]; real vectors are `array<f32>`; images are row-major `N × N`, index `y·N + x`,
//! as everywhere in the lab (docs/mri-conventions.md). Parameters travel in small uniform
//! buffers (browser WebGPU has no push constants).
//!
//! # Asynchrony
//!
//! Kernels only record commands; nothing waits for the GPU until a read-back
//! ([`GpuContext::read_complex`], [`GpuContext::read_f32`]), which is a future: the browser's
//! event loop resolves it, and natively [`block_on`] polls the device until it is ready.

pub mod cascade;
pub mod conv;
pub mod engine;
pub mod firenet;
pub mod fourier;
pub mod operator;
pub mod sampling;
pub mod vector;
pub mod wavelet;

pub use engine::GpuEngine;

use crate::{Error, Result};
use rustfft::num_complex::Complex32;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// A WGSL shader: its name (the file's stem, for messages and the pipeline cache) and source.
#[derive(Clone, Copy, Debug)]
pub struct Shader {
    pub name: &'static str,
    pub source: &'static str,
}

/// Includes `shaders/<name>.wgsl` as a [`Shader`], after the shared preludes named (WGSL has no
/// imports): `gpu_shader!("firenet", "reduce")` is `reduce.wgsl` followed by `firenet.wgsl`.
#[macro_export]
#[doc(hidden)]
macro_rules! gpu_shader {
    ($name:literal $(, $prelude:literal)*) => {
        $crate::engine::gpu::Shader {
            name: $name,
            source: concat!(
                $(include_str!(concat!("shaders/", $prelude, ".wgsl")),)*
                include_str!(concat!("shaders/", $name, ".wgsl"))
            ),
        }
    };
}

/// What went wrong on the device, kept for the engine's owner (first message wins).
#[derive(Default)]
struct Health {
    failure: Option<String>,
}

/// An adapter's device and queue with the lab's compiled pipelines.
pub struct GpuContext {
    device: wgpu::Device,
    queue: wgpu::Queue,
    adapter: String,
    health: Arc<Mutex<Health>>,
    modules: RefCell<HashMap<&'static str, wgpu::ShaderModule>>,
    pipelines: RefCell<HashMap<(&'static str, &'static str), wgpu::ComputePipeline>>,
}

impl std::fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.adapter)
            .finish_non_exhaustive()
    }
}

/// The backends the lab asks for: WebGPU in the browser, Vulkan natively.
fn backends() -> wgpu::Backends {
    if cfg!(target_arch = "wasm32") {
        wgpu::Backends::BROWSER_WEBGPU
    } else {
        wgpu::Backends::VULKAN
    }
}

impl GpuContext {
    /// Asks for an adapter and a device; `Ok(None)` when there is no adapter (a browser without
    /// WebGPU, a machine without a Vulkan driver).
    pub async fn request() -> Result<Option<Self>> {
        // Without `navigator.gpu` (no WebGPU, or a page not served from a secure context) there
        // is nothing to ask.
        #[cfg(target_arch = "wasm32")]
        if !js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
            .and_then(|n| js_sys::Reflect::get(&n, &"gpu".into()))
            .is_ok_and(|gpu| !gpu.is_undefined() && !gpu.is_null())
        {
            return Ok(None);
        }
        let mut descriptor = wgpu::InstanceDescriptor::new_without_display_handle();
        descriptor.backends = backends();
        let instance = wgpu::Instance::new(descriptor);
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
            ..Default::default()
        };
        let Ok(adapter) = instance.request_adapter(&options).await else {
            return Ok(None);
        };
        let info = adapter.get_info();
        #[cfg(target_arch = "wasm32")]
        let info = wgpu::AdapterInfo {
            name: browser_adapter_name().await.unwrap_or(info.name.clone()),
            ..info
        };
        let adapter_name = if info.name.is_empty() {
            format!("{:?} adapter", info.backend)
        } else {
            info.name.clone()
        };
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("barriers-lab"),
            required_limits: adapter.limits(),
            ..Default::default()
        };
        let (device, queue) = adapter
            .request_device(&descriptor)
            .await
            .map_err(|e| Error::Gpu(format!("{adapter_name} gave no device: {e}")))?;
        let health = Arc::new(Mutex::new(Health::default()));
        let lost = Arc::clone(&health);
        device.set_device_lost_callback(move |reason, message| {
            record(
                &lost,
                format!("the GPU device was lost ({reason:?}): {message}"),
            );
        });
        let errors = Arc::clone(&health);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            record(&errors, format!("GPU error: {error}"));
        }));
        Ok(Some(Self {
            device,
            queue,
            adapter: adapter_name,
            health,
            modules: RefCell::new(HashMap::new()),
            pipelines: RefCell::new(HashMap::new()),
        }))
    }

    /// The adapter's name as the browser or the driver gives it ("llvmpipe (LLVM 15.0.6, 256
    /// bits)", "SwiftShader Device (Subzero)", ...).
    pub fn adapter(&self) -> &str {
        &self.adapter
    }

    /// The device.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// `Err` once the device was lost or reported an error (validation, out of memory): the
    /// engine's results can no longer be trusted and its owner falls back to the CPU.
    pub fn check(&self) -> Result<()> {
        let health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        match &health.failure {
            Some(message) => Err(Error::Gpu(message.clone())),
            None => Ok(()),
        }
    }

    /// Destroys the device, as a lost device would be (the fallback's end-to-end test).
    pub fn lose(&self) {
        record(
            &self.health,
            "the GPU device was destroyed on request".into(),
        );
        self.device.destroy();
    }

    /// The compute pipeline of `entry` in `shader` (compiled once; bind group 0, laid out by
    /// the shader).
    pub fn pipeline(&self, shader: &Shader, entry: &'static str) -> wgpu::ComputePipeline {
        if let Some(p) = self.pipelines.borrow().get(&(shader.name, entry)) {
            return p.clone();
        }
        let module = self
            .modules
            .borrow_mut()
            .entry(shader.name)
            .or_insert_with(|| {
                self.device
                    .create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(shader.name),
                        source: wgpu::ShaderSource::Wgsl(shader.source.into()),
                    })
            })
            .clone();
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            });
        self.pipelines
            .borrow_mut()
            .insert((shader.name, entry), pipeline.clone());
        pipeline
    }

    /// A bind group for `pipeline` with `buffers` bound whole at bindings `0, 1, …` of group 0.
    pub fn bind(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// Records one dispatch of `entry` in `shader` over `groups` workgroups with `buffers` bound
    /// at `0, 1, …`.
    pub fn dispatch(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        shader: &Shader,
        entry: &'static str,
        buffers: &[&wgpu::Buffer],
        groups: (u32, u32, u32),
    ) {
        let pipeline = self.pipeline(shader, entry);
        let bind_group = self.bind(&pipeline, buffers);
        dispatch_bound(encoder, &pipeline, &bind_group, groups);
    }

    /// A command encoder.
    pub fn encoder(&self) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None })
    }

    /// Submits the recorded commands.
    pub fn submit(&self, encoder: wgpu::CommandEncoder) {
        self.queue.submit([encoder.finish()]);
    }

    /// A zeroed storage buffer of `bytes` bytes (storage, copy source and destination).
    pub fn storage(&self, bytes: usize) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: (bytes.max(4)) as u64,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// A zeroed storage buffer of `len` complex values.
    pub fn complex(&self, len: usize) -> wgpu::Buffer {
        self.storage(len * 8)
    }

    /// A storage buffer holding `data` (plain values: `f32`, `u32`, `[f32; 2]`, …).
    pub fn upload<T: bytemuck::Pod>(&self, data: &[T]) -> wgpu::Buffer {
        if data.is_empty() {
            return self.storage(4);
        }
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytemuck::cast_slice(data),
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
            })
    }

    /// A storage buffer holding complex `data`.
    pub fn upload_complex(&self, data: &[Complex32]) -> wgpu::Buffer {
        self.upload(&pairs(data))
    }

    /// Overwrites the start of `buffer` with complex `data` (before the next submitted commands).
    pub fn write_complex(&self, buffer: &wgpu::Buffer, data: &[Complex32]) {
        if !data.is_empty() {
            self.queue
                .write_buffer(buffer, 0, bytemuck::cast_slice(&pairs(data)));
        }
    }

    /// Overwrites the start of `buffer` with `data`.
    pub fn write<T: bytemuck::Pod>(&self, buffer: &wgpu::Buffer, data: &[T]) {
        if !data.is_empty() {
            self.queue
                .write_buffer(buffer, 0, bytemuck::cast_slice(data));
        }
    }

    /// A uniform buffer holding `params` (a `#[repr(C)]` plain struct laid out as the shader's,
    /// 16-byte multiples).
    pub fn uniform<T: bytemuck::Pod>(&self, params: &T) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytemuck::bytes_of(params),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            })
    }

    /// Reads the first `len` values of `buffer` back (submits a copy; resolves when the GPU has
    /// finished everything submitted before).
    pub async fn read<T: bytemuck::Pod>(
        &self,
        buffer: &wgpu::Buffer,
        len: usize,
    ) -> Result<Vec<T>> {
        self.check()?;
        let bytes = (len * std::mem::size_of::<T>()) as u64;
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("read-back"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.encoder();
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
        self.submit(encoder);
        let (sender, receiver) = futures::channel::oneshot::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            let _ = sender.send(result);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
        let mapped = receiver
            .await
            .map_err(|_| Error::Gpu("the GPU read-back was dropped".into()))?;
        mapped.map_err(|e| {
            self.check()
                .err()
                .unwrap_or_else(|| Error::Gpu(format!("cannot read the GPU's result: {e}")))
        })?;
        let values = {
            let view = staging
                .get_mapped_range(..)
                .map_err(|e| Error::Gpu(format!("cannot read the GPU's result: {e}")))?;
            bytemuck::cast_slice::<u8, T>(&view).to_vec()
        };
        staging.unmap();
        self.check()?;
        Ok(values)
    }

    /// Reads `len` real values back.
    pub async fn read_f32(&self, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        self.read::<f32>(buffer, len).await
    }

    /// Reads `len` complex values back.
    pub async fn read_complex(&self, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<Complex32>> {
        let raw = self.read::<[f32; 2]>(buffer, len).await?;
        Ok(raw
            .into_iter()
            .map(|[re, im]| Complex32::new(re, im))
            .collect())
    }
}

/// Records one dispatch with a prepared bind group (loops that reuse their bind groups).
pub fn dispatch_bound(
    encoder: &mut wgpu::CommandEncoder,
    pipeline: &wgpu::ComputePipeline,
    bind_group: &wgpu::BindGroup,
    groups: (u32, u32, u32),
) {
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: None,
        timestamp_writes: None,
    });
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, bind_group, &[]);
    pass.dispatch_workgroups(groups.0, groups.1, groups.2);
}

/// Workgroups of `size` threads covering `n` items (at least one).
pub fn groups_for(n: usize, size: usize) -> u32 {
    n.div_ceil(size).max(1) as u32
}

/// In the browser, the adapter's name from `GPUAdapter.info` (its description, else vendor,
/// architecture and device), which the `wgpu` adapter does not pass on: asks `navigator.gpu` for
/// the same (high-performance) adapter. `None` where the browser says nothing.
#[cfg(target_arch = "wasm32")]
async fn browser_adapter_name() -> Option<String> {
    use js_sys::Reflect;
    use wasm_bindgen::JsCast;
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let gpu = Reflect::get(&navigator, &"gpu".into()).ok()?;
    let request: js_sys::Function = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let options = js_sys::Object::new();
    Reflect::set(
        &options,
        &"powerPreference".into(),
        &"high-performance".into(),
    )
    .ok()?;
    let promise: js_sys::Promise = request.call1(&gpu, &options).ok()?.dyn_into().ok()?;
    let adapter = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    if adapter.is_null() || adapter.is_undefined() {
        return None;
    }
    let info = Reflect::get(&adapter, &"info".into()).ok()?;
    let field = |key: &str| {
        Reflect::get(&info, &key.into())
            .ok()
            .and_then(|v| v.as_string())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    field("description").or_else(|| {
        let parts: Vec<String> = ["vendor", "architecture", "device"]
            .into_iter()
            .filter_map(field)
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    })
}

fn pairs(data: &[Complex32]) -> Vec<[f32; 2]> {
    data.iter().map(|c| [c.re, c.im]).collect()
}

fn record(health: &Mutex<Health>, message: String) {
    let mut health = health.lock().unwrap_or_else(|p| p.into_inner());
    health.failure.get_or_insert(message);
}

/// Natively, runs a GPU future to completion (the read-backs poll the device themselves).
#[cfg(not(target_arch = "wasm32"))]
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    pollster::block_on(future)
}

/// Natively, the test suites' context: the first Vulkan adapter (lavapipe where there is no
/// GPU). Panics with the fix when there is none, so that a machine without a driver fails
/// the GPU tests instead of skipping them.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_context() -> GpuContext {
    match block_on(GpuContext::request()) {
        Ok(Some(context)) => context,
        Ok(None) => panic!(
            "no Vulkan adapter: install a driver (Debian: apt-get install mesa-vulkan-drivers, \
             as scripts/setup.sh --browser does)"
        ),
        Err(e) => panic!("{e}"),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    const VECTOR: Shader = gpu_shader!("vector", "reduce");

    #[test]
    fn a_shader_runs_and_reads_back() {
        let gpu = native_context();
        let data: Vec<Complex32> = (0..1000)
            .map(|i| Complex32::new(i as f32, -(i as f32)))
            .collect();
        let x = gpu.upload_complex(&data);
        let params = gpu.uniform(&[2.0f32, 0.0, 0.0, 0.0]);
        let mut encoder = gpu.encoder();
        gpu.dispatch(
            &mut encoder,
            &VECTOR,
            "scale",
            &[&x, &params],
            (groups_for(1000, 64), 1, 1),
        );
        gpu.submit(encoder);
        let back = block_on(gpu.read_complex(&x, 1000)).unwrap();
        for (b, d) in back.iter().zip(&data) {
            assert_eq!(*b, d * 2.0);
        }
        assert!(!gpu.adapter().is_empty());
    }

    #[test]
    fn a_lost_device_is_an_error_not_a_panic() {
        let gpu = native_context();
        let x = gpu.upload(&[1.0f32; 4]);
        gpu.lose();
        let e = block_on(gpu.read_f32(&x, 4)).unwrap_err();
        assert!(e.to_string().contains("destroyed"), "{e}");
    }
}
