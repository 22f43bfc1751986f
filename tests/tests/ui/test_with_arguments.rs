#[weft::test]
async fn with_arguments(port: u16, host: &str) {
    let _ = (port, host);
}

fn main() {}
