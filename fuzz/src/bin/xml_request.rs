fn main() {
    afl::fuzz!(|data: &[u8]| rosetta_fuzz::targets::xml_request(data));
}
