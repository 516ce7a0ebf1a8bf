fn main() {
    afl::fuzz!(|data: &[u8]| rosetta_fuzz::targets::json_to_proto(data));
}
