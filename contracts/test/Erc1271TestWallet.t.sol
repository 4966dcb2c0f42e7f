// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {vm} from "./Vm.sol";
import {TestBase} from "./TestBase.sol";
import {LitRegistry} from "../LitRegistry.sol";
import {NodeConfig} from "../NodeConfig.sol";
import {ILitRegistry, INodeConfig} from "../ILitRegistry.sol";
import {Erc1271TestWallet} from "../testing/Erc1271TestWallet.sol";

contract Erc1271TestWalletTest is TestBase {
    bytes4 internal constant MAGIC_VALUE = 0x1626ba7e;
    bytes4 internal constant INVALID = 0xffffffff;
    uint256 internal constant OWNER_KEY = 0x0A11CE;
    uint256 internal constant OTHER_KEY = 0x0B0B;
    uint256 internal constant SIGNER_KEY = 0x5167e4;
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    bytes32 internal constant HASH = keccak256("a message hash");
    bytes32 internal constant SALT = keccak256("salt");

    address internal owner;
    Erc1271TestWallet internal wallet;

    function setUp() public {
        owner = vm.addr(OWNER_KEY);
        wallet = new Erc1271TestWallet(owner);
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function test_Owner() public view {
        assertEq(wallet.owner(), owner, "owner");
    }

    function test_Constructor_RevertsOnZeroOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Erc1271TestWallet.ZeroOwner.selector));
        new Erc1271TestWallet(address(0));
    }

    function test_IsValidSignature_MagicValueForTheOwnerOnly() public view {
        assertTrue(wallet.isValidSignature(HASH, _sign(OWNER_KEY, HASH)) == MAGIC_VALUE, "owner's signature");
        assertTrue(wallet.isValidSignature(HASH, _sign(OTHER_KEY, HASH)) == INVALID, "another key's signature");
        assertTrue(
            wallet.isValidSignature(keccak256("another hash"), _sign(OWNER_KEY, HASH)) == INVALID,
            "the owner's signature of another hash"
        );
    }

    function test_IsValidSignature_NeverRevertsOnMalformedSignatures() public view {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(OWNER_KEY, HASH);
        bytes[] memory malformed = new bytes[](6);
        malformed[0] = "";
        malformed[1] = abi.encodePacked(r, s); // 64 bytes
        malformed[2] = abi.encodePacked(r, s, v, uint8(0)); // 66 bytes
        malformed[3] = abi.encodePacked(r, s, uint8(0)); // bad v
        malformed[4] = abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), uint8(v == 27 ? 28 : 27)); // high s
        malformed[5] = abi.encodePacked(bytes32(0), bytes32(0), v);
        for (uint256 i; i < malformed.length; ++i) {
            assertTrue(wallet.isValidSignature(HASH, malformed[i]) == INVALID, "malformed signature");
        }
    }

    function test_Execute_OwnerOnly() public {
        NodeConfig config = new NodeConfig(address(this));
        vm.expectRevert(abi.encodeWithSelector(Erc1271TestWallet.NotOwner.selector, address(this)));
        wallet.execute(address(config), abi.encodeCall(NodeConfig.addPayer, (address(1))));
        vm.expectRevert(abi.encodeWithSelector(Erc1271TestWallet.NotOwner.selector, vm.addr(OTHER_KEY)));
        vm.prank(vm.addr(OTHER_KEY));
        wallet.execute(address(config), "");
    }

    function test_Execute_ReturnsAndBubblesUp() public {
        NodeConfig config = new NodeConfig(address(this));
        vm.prank(owner);
        bytes memory result = wallet.execute(address(config), abi.encodeCall(INodeConfig.owner, ()));
        assertEq(abi.decode(result, (address)), address(this), "return data");

        // The target's revert data, verbatim (here: NodeConfig.NotOwner(wallet)).
        vm.expectRevert(abi.encodeWithSelector(INodeConfig.NotOwner.selector, address(wallet)));
        vm.prank(owner);
        wallet.execute(address(config), abi.encodeCall(NodeConfig.transferOwnership, (owner)));
    }

    function test_Execute_CreatesASelfManagedAccountAdministeredByTheWallet() public {
        NodeConfig config = new NodeConfig(address(this));
        config.addSigner(vm.addr(SIGNER_KEY));
        LitRegistry reg = new LitRegistry(address(config));
        bytes32 account = reg.selfManagedAccountId(address(wallet), SALT);

        vm.expectEmit(address(reg));
        emit ILitRegistry.AccountCreated(account, "Safe-like", "a contract wallet's account", address(wallet), true);
        vm.prank(owner);
        bytes memory result = wallet.execute(
            address(reg),
            abi.encodeCall(LitRegistry.newSelfManagedAccount, (SALT, "Safe-like", "a contract wallet's account"))
        );
        assertEq(abi.decode(result, (bytes32)), account, "returned id");
        (address admin, bool selfManaged) = reg.accountAdmin(account);
        assertEq(admin, address(wallet), "the wallet contract is the admin");
        assertTrue(selfManaged, "self-managed");

        // The same salt again: the registry's revert comes back verbatim.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.AccountAlreadyExists.selector, account));
        vm.prank(owner);
        wallet.execute(address(reg), abi.encodeCall(LitRegistry.newSelfManagedAccount, (SALT, "", "")));

        // Its owner EOA is not the admin; the wallet is, for every write.
        vm.expectRevert(abi.encodeWithSelector(ILitRegistry.NotAccountAdmin.selector, account, owner));
        vm.prank(owner);
        reg.addGroup(account, "g", "", addrs(), hashes());

        address pkp = address(0x9C1);
        bytes32 derivationId = keccak256("minted");
        uint256 deadline = block.timestamp + 60;
        bytes memory nodeSig = _sign(SIGNER_KEY, reg.walletRegistrationDigest(account, pkp, derivationId, deadline));
        vm.startPrank(owner);
        wallet.execute(
            address(reg),
            abi.encodeCall(
                LitRegistry.registerWalletWithNodeSignature, (account, pkp, derivationId, "pkp", "", deadline, nodeSig)
            )
        );
        wallet.execute(address(reg), abi.encodeCall(LitRegistry.addGroup, (account, "g", "", addrs(pkp), hashes())));
        vm.stopPrank();
        assertEq(reg.walletsOf(account), addrs(pkp), "wallet registered");
        (address[] memory wallets,) = reg.groupMembers(account, 1);
        assertEq(wallets, addrs(pkp), "group written by the wallet");
    }
}
