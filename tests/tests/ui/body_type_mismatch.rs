#[weft::main]
async fn main() -> Result<(), std::io::Error> {
    let value = 1;
    value
}

#[weft::main]
async fn extra_semicolon() -> Result<(), std::io::Error> {
    Ok(());
}
