//! The deployment file: where the contracts live. Written by `script/Deploy.s.sol` (or by dev
//! mode, in the same format) and read by the node:
//! `{"chain_id", "deployment_block", "contract_address", "contracts": {name: address}, "owner"}`.

use std::collections::BTreeMap;
use std::path::Path;

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

use super::ChainError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub chain_id: u64,
    /// A block at or before the first deployment transaction; the mirror starts here.
    pub deployment_block: u64,
    /// The main registry contract (LitRegistry).
    pub contract_address: Address,
    /// Every deployed contract by name (`LitRegistry`, `NodeConfig`).
    pub contracts: BTreeMap<String, Address>,
    pub owner: Address,
}

impl Deployment {
    pub fn load(path: &Path) -> Result<Self, ChainError> {
        let fail = |reason: String| ChainError::DeploymentFile {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let deployment: Deployment =
            serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        deployment
            .node_config()
            .map_err(|_| fail("no NodeConfig in contracts".into()))?;
        Ok(deployment)
    }

    pub fn save(&self, path: &Path) -> Result<(), ChainError> {
        let fail = |reason: String| ChainError::DeploymentFile {
            path: path.display().to_string(),
            reason,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| fail(e.to_string()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text + "\n").map_err(|e| fail(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| fail(e.to_string()))
    }

    pub fn node_config(&self) -> Result<Address, ChainError> {
        self.contracts
            .get("NodeConfig")
            .copied()
            .ok_or_else(|| ChainError::DeploymentFile {
                path: "<deployment>".into(),
                reason: "no NodeConfig address".into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forge_script_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deployment.json");
        std::fs::write(
            &path,
            r#"{"chain_id": 31337, "deployment_block": 3,
                "contract_address": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
                "contracts": {"LitRegistry": "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
                              "NodeConfig": "0x5fbdb2315678afecb367f032d93f642f64180aa3"},
                "owner": "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"}"#,
        )
        .unwrap();
        let deployment = Deployment::load(&path).unwrap();
        assert_eq!(deployment.chain_id, 31337);
        assert_eq!(deployment.deployment_block, 3);
        assert_eq!(
            deployment.node_config().unwrap(),
            "0x5fbdb2315678afecb367f032d93f642f64180aa3"
                .parse::<Address>()
                .unwrap()
        );
        deployment.save(&path).unwrap();
        assert_eq!(Deployment::load(&path).unwrap(), deployment);
    }

    #[test]
    fn a_broken_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deployment.json");
        std::fs::write(&path, r#"{"chain_id": "x"}"#).unwrap();
        let err = Deployment::load(&path).unwrap_err().to_string();
        assert!(err.contains("deployment.json"), "{err}");
    }
}
