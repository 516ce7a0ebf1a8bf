fn main() {
    afl::fuzz!(|data: &[u8]| rosetta_fuzz::targets::rest_request(data));
}
