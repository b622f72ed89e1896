// `rusm run hello.wasm`: a process says who it is.
fn main() {
    println!("hello from rust process {} (abi {})", rusm::self_pid().0, rusm::abi_version());
}
