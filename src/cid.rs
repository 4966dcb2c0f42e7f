//! CIDv0 of a byte string exactly as `ipfs add --only-hash --cid-version=0` computes it with the
//! go-ipfs defaults: 262144-byte chunks, one dag-pb leaf per chunk whose Data is a UnixFS `File`
//! message, and for more than one chunk a balanced tree with at most 174 links per node whose
//! UnixFS data carries the file size and the children's block sizes.
//! CID = base58btc(multihash(sha2-256, dag-pb bytes of the root)). The one place CIDs and their
//! hashes are computed: the API, the store and the actions runtime all call it.

use alloy::primitives::{keccak256, B256};
use cid::Cid;
use multihash::Multihash;
use prost::Message;
use sha2::{Digest, Sha256};

/// keccak256 of the CID string: the "hashed CID" groups, permissions and the API use.
pub fn cid_hash(cid: &str) -> B256 {
    keccak256(cid.as_bytes())
}

const CHUNK_SIZE: usize = 262_144;
const MAX_LINKS: usize = 174;
const SHA2_256: u64 = 0x12;

/// UnixFS `Data` message (unixfs.proto, proto2). Only the fields a file uses.
#[derive(Clone, PartialEq, Message)]
struct UnixFsData {
    #[prost(int32, required, tag = "1")]
    kind: i32,
    #[prost(bytes = "vec", optional, tag = "2")]
    data: Option<Vec<u8>>,
    #[prost(uint64, optional, tag = "3")]
    filesize: Option<u64>,
    #[prost(uint64, repeated, packed = "false", tag = "4")]
    blocksizes: Vec<u64>,
}
const UNIXFS_FILE: i32 = 2;

/// dag-pb `PBLink`.
#[derive(Clone, PartialEq, Message)]
struct PbLink {
    #[prost(bytes = "vec", optional, tag = "1")]
    hash: Option<Vec<u8>>,
    #[prost(string, optional, tag = "2")]
    name: Option<String>,
    #[prost(uint64, optional, tag = "3")]
    tsize: Option<u64>,
}

/// dag-pb `PBNode`. Canonical dag-pb writes Links (field 2) before Data (field 1), while prost's
/// derived encoder writes fields in tag order, so this one message is encoded by hand from
/// prost's field encoders.
struct PbNode {
    links: Vec<PbLink>,
    data: Option<Vec<u8>>,
}

impl PbNode {
    fn encode_to_vec(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        for link in &self.links {
            prost::encoding::message::encode(2, link, &mut buf);
        }
        if let Some(data) = &self.data {
            prost::encoding::bytes::encode(1, data, &mut buf);
        }
        buf
    }
}

/// A node of the tree once serialized: its multihash, its file size and its cumulative size.
struct Built {
    multihash: Vec<u8>,
    file_size: u64,
    total_size: u64,
}

fn seal(node: &PbNode, file_size: u64, children_total: u64) -> Built {
    let bytes = node.encode_to_vec();
    let digest = Sha256::digest(&bytes);
    let multihash = Multihash::<32>::wrap(SHA2_256, &digest)
        .expect("a sha2-256 digest fits a 32-byte multihash")
        .to_bytes();
    Built {
        multihash,
        file_size,
        total_size: bytes.len() as u64 + children_total,
    }
}

fn leaf(chunk: &[u8]) -> Built {
    let unixfs = UnixFsData {
        kind: UNIXFS_FILE,
        data: (!chunk.is_empty()).then(|| chunk.to_vec()),
        filesize: Some(chunk.len() as u64),
        blocksizes: Vec::new(),
    };
    let node = PbNode {
        links: Vec::new(),
        data: Some(unixfs.encode_to_vec()),
    };
    seal(&node, chunk.len() as u64, 0)
}

fn parent(children: &[Built]) -> Built {
    let file_size = children.iter().map(|c| c.file_size).sum();
    let unixfs = UnixFsData {
        kind: UNIXFS_FILE,
        data: None,
        filesize: Some(file_size),
        blocksizes: children.iter().map(|c| c.file_size).collect(),
    };
    let node = PbNode {
        links: children
            .iter()
            .map(|c| PbLink {
                hash: Some(c.multihash.clone()),
                name: Some(String::new()),
                tsize: Some(c.total_size),
            })
            .collect(),
        data: Some(unixfs.encode_to_vec()),
    };
    seal(
        &node,
        file_size,
        children.iter().map(|c| c.total_size).sum(),
    )
}

/// The CIDv0 (`Qm…`) of `bytes`, identical to `ipfs add --only-hash` with go-ipfs defaults.
pub fn cid_v0(bytes: &[u8]) -> String {
    let mut layer: Vec<Built> = if bytes.is_empty() {
        vec![leaf(&[])]
    } else {
        bytes.chunks(CHUNK_SIZE).map(leaf).collect()
    };
    // A balanced tree filled left to right is exactly this bottom-up grouping.
    while layer.len() > 1 {
        layer = layer.chunks(MAX_LINKS).map(parent).collect();
    }
    let root = layer.pop().expect("at least one node");
    let multihash = Multihash::<64>::from_bytes(&root.multihash).expect("valid multihash");
    Cid::new_v0(multihash)
        .expect("sha2-256 multihash is a valid CIDv0")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vectors() {
        assert_eq!(
            cid_v0(b"hello world"),
            "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"
        );
        assert_eq!(
            cid_v0(b"hello world\n"),
            "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
        );
        assert_eq!(
            cid_v0(b""),
            "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
        );
        assert_eq!(
            cid_v0(br#"async function main() { return "hello"; }"#),
            "QmXoMqm4sckyYxbqarxfyfY36qj9bvmVFihXEYNqK4Uri6"
        );
    }
}
