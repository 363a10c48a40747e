/**
 * A payout the token refuses to a merchant's payout wallet, on a real Hardhat node and PostgreSQL. The escrow
 * cannot push the payee's share to a blocklisted wallet, so it credits the wallet instead (PayoutCredited); the
 * wallet withdraws the credit itself once the issuer lifts the block (PayoutWithdrawn). The books must show the
 * credit as money the escrow still holds for the merchant (escrow_credits), not as paid out, and reconciliation
 * must find the same credit on chain, before and after the withdrawal. The credit belongs to the merchant that
 * named the wallet on chain (PayoutAddressSet), also after it names another one; a merchant that names another
 * merchant's custodial address does not take that merchant's credits into its books.
 */
import { expect } from "chai";
import { NonceManager, Wallet, toBeHex, type HDNodeWallet } from "ethers";
import { PaymentEscrow__factory, UsdcLike__factory } from "../../../typechain-types";
import { ADMIN_KEY, devWallet, waitFor } from "../harness";
import { createMerchant, lineItems, startStack, terms, waitStatuses, type Merchant, type Stack } from "./support";

const FEE_BPS = 100n;
const payeeShare = (amount: bigint) => amount - (amount * FEE_BPS) / 10_000n;

type AccountBalances = Record<string, string>;

describe("relayer commerce: a payout the token refuses to a merchant's payout wallet", function () {
  this.timeout(300_000);
  let stack: Stack;
  let admin: NonceManager;
  let usdcl: string;
  let ref = 0;

  before(async () => {
    stack = await startStack({ PAYOUT_CHANGE_DELAY_SECONDS: "0" });
    admin = new NonceManager(devWallet(0, stack.node.provider));
    const token = await new UsdcLike__factory(admin).deploy();
    await token.waitForDeployment();
    usdcl = await token.getAddress();
    await (await PaymentEscrow__factory.connect(stack.deployed.escrow, admin).setTokenAllowed(usdcl, true)).wait();
  });
  after(async () => stack?.stop());

  const escrowOf = () => PaymentEscrow__factory.connect(stack.deployed.escrow, stack.node.provider);
  const blocklist = () => UsdcLike__factory.connect(usdcl, admin);

  async function namePayoutWallet(m: Merchant, wallet: string) {
    const put = await stack.api("PUT", "/v1/merchant/payout-address", m.key, { address: wallet });
    expect(put.status, JSON.stringify(put.body)).to.equal(202);
    await waitFor(
      `payout wallet ${wallet} active`,
      async () => {
        const p = (await stack.api("GET", "/v1/merchant/payout-address", m.key)).body;
        return p.state === "active" && p.address === wallet;
      },
      60_000,
      200,
    );
    expect(await escrowOf().payoutAddressOf(m.address)).to.equal(wallet);
  }

  /** Until the indexer (and so the ledger, posted in its transaction) has every block up to `block`. */
  async function indexedThrough(block: number) {
    await waitFor(
      `block ${block} indexed`,
      async () =>
        Number(
          (await stack.relayer.db.query<{ n: string }>(`select last_block as n from indexer_state where id = 1`))
            .rows[0]?.n ?? -1,
        ) >= block,
      60_000,
      100,
    );
  }

  /** The merchant's ledger balances in the USDC-like token (its one token here). */
  async function booksOf(m: Merchant): Promise<AccountBalances> {
    const b = await stack.api("GET", `/v1/ledger/balances?token=${usdcl}`, m.key);
    expect(b.status).to.equal(200);
    const byToken = b.body.balances as Record<string, AccountBalances>;
    expect(Object.keys(byToken)).to.deep.equal([usdcl]);
    return Object.values(byToken)[0];
  }

  /** The merchant's own reconciliation report (its refunds-scope key may ask). */
  async function reconciliationOf(m: Merchant) {
    const r = await stack.api("GET", "/v1/ledger/reconciliation", m.key);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return r.body as {
      ok: boolean;
      headBlock: number;
      tokens: Record<string, { contractBalance: string; openPositions: string; creditedOutstanding: string }>;
      ledger: Record<string, Record<string, string>>;
      differences: unknown[];
    };
  }

  /** The operator's view of every merchant (the merchant's own report is rate limited). */
  async function stateOfAdmin(m: Merchant) {
    const r = await stack.api("GET", "/v1/admin/reconciliation", ADMIN_KEY);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return { ...r.body, merchant: r.body.merchants[m.id] as Record<string, Record<string, string>> };
  }

  /** An order in the USDC-like token, paid and shipped; the token refuses the payee when the buyer confirms. */
  async function completeRefused(m: Merchant, amount: bigint, refused: string) {
    const o = await stack.api("POST", "/v1/orders", m.key, {
      reference: `CREDIT-${++ref}`,
      amount: String(amount),
      token: usdcl,
    });
    expect(o.status, JSON.stringify(o.body)).to.equal(202);
    const id = o.body.id as string;
    const row = (await waitStatuses(stack.relayer, new Map([[id, "created"]]), "created")).get(id)!;
    expect(row.terms.payee).to.equal(refused);
    const buyer = new NonceManager(devWallet(12, stack.node.provider));
    const token = UsdcLike__factory.connect(usdcl, buyer);
    const escrow = PaymentEscrow__factory.connect(stack.deployed.escrow, buyer);
    await (await token.mint(await buyer.getAddress(), amount)).wait();
    await (await token.approve(stack.deployed.escrow, amount)).wait();
    await (await escrow.pay(terms(row))).wait();
    await waitStatuses(stack.relayer, new Map([[id, "paid"]]), "paid");
    const ship = await stack.api("POST", `/v1/orders/${id}/ship`, m.key, { trackingReference: `TRK-${ref}` });
    expect(ship.status).to.equal(202);
    await waitStatuses(stack.relayer, new Map([[id, "shipped"]]), "shipped");
    // The issuer blocklists the payout wallet between shipping and the buyer's confirmation.
    await (await blocklist().setBlocked(refused, true)).wait();
    const confirmed = await (await escrow.confirmReceipt(terms(row), lineItems(row))).wait();
    await waitStatuses(stack.relayer, new Map([[id, "completed"]]), "completed");
    await indexedThrough(confirmed!.blockNumber);
    return confirmed!.hash;
  }

  /** The payout wallet, unblocked and given gas, withdraws its credit to itself; returns the transaction hash. */
  async function withdrawItself(wallet: HDNodeWallet) {
    await (await blocklist().setBlocked(wallet.address, false)).wait();
    await stack.node.provider.send("hardhat_setBalance", [wallet.address, toBeHex(10n ** 18n)]);
    const escrow = PaymentEscrow__factory.connect(stack.deployed.escrow, wallet.connect(stack.node.provider));
    const receipt = await (await escrow.withdraw(usdcl, wallet.address)).wait();
    await indexedThrough(receipt!.blockNumber);
    return receipt!.hash;
  }

  /** The merchant's escrow_credits lines, as the ledger API lists them. */
  async function creditLines(m: Merchant) {
    const r = await stack.api("GET", `/v1/ledger/entries?token=${usdcl}`, m.key);
    expect(r.status).to.equal(200);
    return (r.body.data as { account: string; debit: string; credit: string; txHash: string }[])
      .filter((l) => l.account === "escrow_credits")
      .map(({ debit, credit, txHash }) => ({ debit, credit, txHash }));
  }

  it("an auditor sees the refused payout to the payout wallet as an escrow credit, then its withdrawal, and the books equal the chain", async () => {
    const m = await createMerchant(stack.api, "Refused payout wallet shop");
    const wallet = Wallet.createRandom();
    await namePayoutWallet(m, wallet.address);
    const amount = 4_000_000n;
    const credit = payeeShare(amount);

    const confirmTx = await completeRefused(m, amount, wallet.address);
    expect(await escrowOf().credited(wallet.address, usdcl)).to.equal(credit);
    expect(await UsdcLike__factory.connect(usdcl, stack.node.provider).balanceOf(wallet.address)).to.equal(0n);

    // The books: the release counts in merchant_payouts, and payout_wallet takes the credit back out of it (it
    // has not reached the wallet); the escrow still holds it for the merchant, as escrow_credits.
    const credited = await booksOf(m);
    expect(credited).to.include({
      escrow: "0",
      merchant_payouts: String(credit),
      payout_wallet: String(-credit),
      escrow_credits: String(credit),
    });
    expect(BigInt(credited.merchant_payouts) + BigInt(credited.payout_wallet), "paid out to the wallet").to.equal(0n);
    expect(await creditLines(m)).to.deep.equal([{ debit: String(credit), credit: "0", txHash: confirmTx }]);

    const before = await reconciliationOf(m);
    expect(before.differences).to.deep.equal([]);
    expect(before.ok).to.equal(true);
    expect(before.ledger[usdcl.toLowerCase()]).to.include({
      ledgerCredits: String(credit),
      chainCredits: String(credit),
      ledgerPayouts: String(credit),
      chainPayouts: String(credit),
    });
    expect(before.tokens[usdcl.toLowerCase()]).to.include({
      creditedOutstanding: String(credit),
      contractBalance: String(credit),
    });

    const withdrawTx = await withdrawItself(wallet);
    expect(await escrowOf().credited(wallet.address, usdcl)).to.equal(0n);
    expect(await UsdcLike__factory.connect(usdcl, stack.node.provider).balanceOf(wallet.address)).to.equal(credit);

    const withdrawn = await booksOf(m);
    expect(withdrawn).to.include({
      escrow: "0",
      merchant_payouts: String(credit),
      payout_wallet: "0",
      escrow_credits: "0",
    });
    expect(await creditLines(m)).to.deep.equal([
      { debit: String(credit), credit: "0", txHash: confirmTx },
      { debit: "0", credit: String(credit), txHash: withdrawTx },
    ]);
    const after = await stateOfAdmin(m);
    expect(after.differences).to.deep.equal([]);
    expect(after.ok).to.equal(true);
    expect(after.merchant[usdcl.toLowerCase()]).to.include({ ledgerCredits: "0", chainCredits: "0" });
    expect(after.tokens[usdcl.toLowerCase()]).to.include({ creditedOutstanding: "0", contractBalance: "0" });
  });

  it("a merchant that names a new payout wallet while the refused one holds a credit keeps the credit in its books, and the old wallet's withdrawal is booked", async () => {
    const m = await createMerchant(stack.api, "Replaced payout wallet shop");
    const refused = Wallet.createRandom();
    await namePayoutWallet(m, refused.address);
    const credit = payeeShare(3_000_000n);
    const confirmTx = await completeRefused(m, 3_000_000n, refused.address);
    expect(await escrowOf().credited(refused.address, usdcl)).to.equal(credit);

    // The owner's natural reaction to a blocklisted wallet: name another one. The credit stays where it was.
    await namePayoutWallet(m, Wallet.createRandom().address);
    expect(await booksOf(m)).to.include({ escrow_credits: String(credit), payout_wallet: String(-credit) });
    const replaced = await stateOfAdmin(m);
    expect(replaced.differences).to.deep.equal([]);
    expect(replaced.merchant[usdcl.toLowerCase()]).to.include({
      ledgerCredits: String(credit),
      chainCredits: String(credit),
    });

    const withdrawTx = await withdrawItself(refused);
    expect(await escrowOf().credited(refused.address, usdcl)).to.equal(0n);
    expect(await booksOf(m)).to.include({ escrow_credits: "0", payout_wallet: "0" });
    expect(await creditLines(m)).to.deep.equal([
      { debit: String(credit), credit: "0", txHash: confirmTx },
      { debit: "0", credit: String(credit), txHash: withdrawTx },
    ]);
    const after = await stateOfAdmin(m);
    expect(after.differences).to.deep.equal([]);
    expect(after.merchant[usdcl.toLowerCase()]).to.include({ ledgerCredits: "0", chainCredits: "0" });
  });

  it("a merchant naming another merchant's address or payout wallet as its payout wallet is refused (their credits could not be told apart), and nothing changes", async () => {
    const [victim, namer] = await Promise.all([
      createMerchant(stack.api, "Custodial credit shop"),
      createMerchant(stack.api, "Shop naming another's address"),
    ]);
    const victimWallet = Wallet.createRandom().address;
    await namePayoutWallet(victim, victimWallet);
    const before = (await stack.api("GET", "/v1/merchant/payout-address", namer.key)).body;
    for (const address of [victim.address, victimWallet, victimWallet.toLowerCase()]) {
      const put = await stack.api("PUT", "/v1/merchant/payout-address", namer.key, { address });
      expect(put.status, JSON.stringify(put.body)).to.equal(400);
      expect(put.body.error.code).to.equal("payout_address_forbidden");
      expect(put.body.error.details.reason).to.equal("another_merchants_address");
    }
    expect((await stack.api("GET", "/v1/merchant/payout-address", namer.key)).body).to.deep.equal(before);
    expect(await escrowOf().payoutAddressOf(namer.address)).to.equal(namer.address);
  });
});
