//! The ecsim command-line interface (placeholder until the experiments land).
fn main() {
    println!("ecsim: deterministic simulator of eventual-consistency patterns");
    println!("usage: ecsim run [CONFIG]");
}
