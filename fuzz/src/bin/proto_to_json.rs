fn main() {
    afl::fuzz!(|data: &[u8]| rosetta_fuzz::targets::proto_to_json(data));
}
