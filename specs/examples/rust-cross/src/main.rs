//! Prints the architecture the program was compiled for, so that each
//! image of a multi-platform build shows which binary it carries.

fn main() {
    println!("hello: built for {}-{}", std::env::consts::OS, std::env::consts::ARCH);
}
