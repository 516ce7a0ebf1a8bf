fn main() {
    afl::fuzz!(|data: &[u8]| rosetta_fuzz::targets::path_template(data));
}
