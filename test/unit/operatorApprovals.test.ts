import { expect } from "chai";
import { Interface, Wallet } from "ethers";
import { FORWARD_REQUEST_TYPES } from "../../relayer/src/domain/typedData";
import { approvalOf } from "../../scripts/lib/operatorApprovals";

describe("merchant:approve signs operator approvals only", function () {
  const wallet = Wallet.createRandom().address;
  const operator = Wallet.createRandom().address;
  const escrow = Wallet.createRandom().address;
  const abi = new Interface([
    "function setOperatorApproval(address operator, bool approved)",
    "function setApprovalForAll(address operator, bool approved)",
    "function setPayoutAddress(address payout)",
  ]);
  const msg = (data: string, over: Partial<{ from: string; value: string }> = {}) => ({
    from: wallet,
    to: escrow,
    value: "0",
    data,
    ...over,
  });

  it("decodes an approval on the escrow and on the inventory and says what it signs", function () {
    const a = approvalOf(
      FORWARD_REQUEST_TYPES,
      msg(abi.encodeFunctionData("setOperatorApproval", [operator, true])),
      wallet,
    );
    expect(a).to.equal(`setOperatorApproval(${operator}, true) on ${escrow}`);
    const b = approvalOf(
      FORWARD_REQUEST_TYPES,
      msg(abi.encodeFunctionData("setApprovalForAll", [operator, true])),
      wallet,
    );
    expect(b).to.equal(`setApprovalForAll(${operator}, true) on ${escrow}`);
  });

  it("a hostile relayer asking the key to sign a payout address change, a revocation or garbage is refused", function () {
    const sign = (data: string) => () => approvalOf(FORWARD_REQUEST_TYPES, msg(data), wallet);
    expect(sign(abi.encodeFunctionData("setPayoutAddress", [operator]))).to.throw(/not an operator approval/);
    expect(sign(abi.encodeFunctionData("setOperatorApproval", [operator, false]))).to.throw(/revokes/);
    expect(sign("0x")).to.throw(/not an operator approval/);
    expect(sign("0xdeadbeef00")).to.throw(/not an operator approval/);
  });

  it("refuses a request from another address, one sending value, and typed data that is not a ForwardRequest", function () {
    const data = abi.encodeFunctionData("setOperatorApproval", [operator, true]);
    expect(() => approvalOf(FORWARD_REQUEST_TYPES, msg(data, { from: operator }), wallet)).to.throw(/a request from/);
    expect(() => approvalOf(FORWARD_REQUEST_TYPES, msg(data, { value: "1" }), wallet)).to.throw(/sending 1 wei/);
    const permit = { Permit: [{ name: "owner", type: "address" }] };
    expect(() => approvalOf(permit, msg(data), wallet)).to.throw(/not the forwarder's ForwardRequest/);
    const extra = { ...FORWARD_REQUEST_TYPES, Other: [{ name: "x", type: "uint256" }] };
    expect(() => approvalOf(extra, msg(data), wallet)).to.throw(/not the forwarder's ForwardRequest/);
  });
});
