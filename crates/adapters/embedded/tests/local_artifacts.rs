//! The local artifact store against a real directory.

use tradai_embedded::LocalArtifacts;
use tradai_ports::ArtifactStore;

#[tokio::test]
async fn a_directory_roundtrips_with_the_same_checksum() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("model");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("manifest.json"), b"{\"kind\":\"ridge\"}").unwrap();
    std::fs::write(src.join("sub/weights.bin"), vec![7u8; 1000]).unwrap();
    let store = LocalArtifacts::open(&tmp.path().join("artifacts/tradai-models-dev")).unwrap();
    let put = store.put_dir("M/1/", &src).await.unwrap();
    assert_eq!(put.files, vec!["manifest.json", "sub/weights.bin"]);
    assert_eq!(put.bytes, 1016);
    assert!(
        put.url.starts_with("file://") && put.url.ends_with("tradai-models-dev/M/1/"),
        "{}",
        put.url
    );
    assert!(
        std::path::Path::new(put.url.trim_start_matches("file://"))
            .join("sub/weights.bin")
            .exists()
    );

    let out = tmp.path().join("out");
    let got = store.get_dir("M/1", &out).await.unwrap();
    assert_eq!(got.sha256, put.sha256);
    assert_eq!(
        std::fs::read(out.join("sub/weights.bin")).unwrap(),
        vec![7u8; 1000]
    );

    // A different content hashes differently.
    std::fs::write(src.join("manifest.json"), b"{\"kind\":\"gbt\"}").unwrap();
    assert_ne!(store.put_dir("M/2", &src).await.unwrap().sha256, put.sha256);

    store.delete_prefix("M/1/").await.unwrap();
    let e = store.get_dir("M/1/", &out).await.unwrap_err().to_string();
    assert!(e.starts_with("no artifact at file://"), "{e}");
}

#[tokio::test]
async fn bad_sources_name_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalArtifacts::open(&tmp.path().join("a")).unwrap();
    let e = store
        .put_dir("M/1", &tmp.path().join("missing"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing"), "{e}");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = store.put_dir("M/1", &empty).await.unwrap_err().to_string();
    assert!(e.contains("has no files"), "{e}");
}
