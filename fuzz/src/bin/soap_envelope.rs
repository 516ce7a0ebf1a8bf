fn main() {
    afl::fuzz!(|data: &[u8]| rosetta_fuzz::targets::soap_envelope(data));
}
