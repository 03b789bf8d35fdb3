use napi_derive::napi;

/// What the native binding of this platform can do.
#[napi(object)]
pub struct NativeCapabilities {
    pub sendfile: bool,
    pub splice: bool,
    pub mmap: bool,
}

/// The methods this build of the binding supports.
#[napi]
pub fn native_capabilities() -> NativeCapabilities {
    let caps = zerosend_core::capabilities();
    NativeCapabilities {
        sendfile: caps.sendfile,
        splice: caps.splice,
        mmap: caps.mmap,
    }
}
