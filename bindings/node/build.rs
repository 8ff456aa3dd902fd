//! Link settings N-API addons need (macOS: undefined symbols resolved by the host).

fn main() {
    napi_build::setup();
}
