fn main() {
    afl::fuzz!(|data: &[u8]| rosetta_fuzz::targets::wsdl_import(data));
}
