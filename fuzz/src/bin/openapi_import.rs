fn main() {
    afl::fuzz!(|data: &[u8]| rosetta_fuzz::targets::openapi_import(data));
}
