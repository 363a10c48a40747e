/**
 * Buyer checkout at /checkout/<chainOrderId>: what is paid, to whom and the fee; the order's terms as the escrow
 * and a wallet see them (EIP-712, items as a list), with the order id checked in the page to be their hash;
 * pays without gas by signing the relayer's EIP-712 data in the browser (the SDK's BuyerClient); then follows the
 * order and lets the buyer confirm receipt, open a dispute, and settle it with the merchant (propose a split, or
 * accept the merchant's). Chain id and escrow come from the checkout API, never from here.
 */
import { getAddress, isError, type Signer } from "ethers";
import { ApiError, ok, type CheckoutView } from "../../sdk/api/client";
import { BuyerClient, type ActionDetails, type BuyerAction } from "../../sdk/buyerClient";
import { publicApi, RELAYER_UNREACHABLE, tokenInfo, type TokenInfo } from "./lib/api";
import { $, h, notify, replace } from "./lib/dom";
import { formatUnits, hexCode, parseUnits, STATUS_LABELS, statusBadge, when } from "./lib/format";
import { checkTerms, readProposal, termsList, type TermsCheck } from "./lib/terms";
import {
  connectInjected,
  DEV_ACCOUNTS,
  devWallet,
  injectedProvider,
  LOCAL_CHAIN_IDS,
  WalletChainError,
} from "./lib/wallets";
import type { OrderAction } from "../../sdk/orderActions";

const POLL_MS = 2000;

const state = {
  id: "",
  order: null as CheckoutView | null,
  token: null as TokenInfo | null,
  signer: null as Signer | null,
  address: null as string | null,
  walletKind: null as "injected" | "dev" | null,
  devIndex: 10,
  busy: false,
  sent: null as BuyerAction | null,
  lastStatus: "",
};

const fmt = (v: string) => `${formatUnits(v, state.token!.decimals)} ${state.token!.symbol}`;

/** The terms check of the current order: its id recomputed from the terms the relayer serves. */
function termsCheck(o: CheckoutView): TermsCheck {
  return checkTerms(o.chainOrderId, o.terms, o.items);
}

/** Terms were served but do not hash to the order id: nothing may be signed for this order. */
const termsMismatch = (c: TermsCheck): boolean => !c.ok && c.terms !== undefined && c.items !== undefined;

// ------------------------------------------------------------------ errors

function explain(err: unknown): (Node | string)[] {
  if (isError(err, "ACTION_REJECTED") || (err as { code?: unknown })?.code === 4001)
    return ["You declined the signature in your wallet, so nothing was sent. Nothing was paid."];
  if (err instanceof WalletChainError) return [err.message];
  // BuyerClient's refusals are ApiErrors too (its RelayerError is the same class).
  const e = err instanceof ApiError ? err : null;
  if (e) {
    const code = h("code", {}, e.code);
    const d = e.details ?? {};
    if (e.code === "unprocessable" && d.balance !== undefined && state.token) {
      return [
        `Your balance is too low to pay this order: you have ${fmt(String(d.balance))} and need ${fmt(String(d.amount))}. `,
        code,
      ];
    }
    if (e.code === "wrong_signer")
      return ["This wallet is not the buyer of this order. Use the wallet the merchant set as buyer. ", code];
    if (e.code === "invalid_order_state") return [`This action is not possible any more: ${e.message}. `, code];
    if (e.code === "signature_expired")
      return ["The signature expired before it reached the relayer. Try again. ", code];
    if (e.code === "rate_limited") return ["Too many requests from this wallet. Wait a minute and try again. ", code];
    if (e.code === "settlement_proposal_mismatch" || e.code === "no_settlement_proposal")
      return [`The merchant's proposal changed: ${e.message}. Check the new one. `, code];
    if (e.status === 404) return ["This order no longer exists. ", code];
    if (e.code === "network_error") return [RELAYER_UNREACHABLE];
    return [`The relayer refused the request: ${e.message}. `, code];
  }
  return [`Something went wrong: ${err instanceof Error ? err.message : String(err)}`];
}

// ------------------------------------------------------------------ summary

const STEPS = ["created", "paid", "shipped", "completed"];

function renderSummary(o: CheckoutView): void {
  replace($("#merchant-name"), o.merchant.name);
  replace($("#amount"), fmt(o.due));
  const reached = STEPS.indexOf(o.status);
  const detour = reached === -1 && o.status !== "pending";
  const lastGood = o.status === "disputed" || o.status === "resolved" ? 1 : 0;
  replace(
    $("#steps"),
    STEPS.map((s, i) => {
      const done = reached >= 0 ? i <= reached : detour && i <= lastGood && o.status !== "cancelled";
      const current = s === o.status;
      return h(
        "li",
        { class: `${done ? "done" : ""} ${current ? "current" : ""}`, "aria-current": current ? "step" : null },
        STATUS_LABELS[s],
      );
    }),
    detour
      ? h("li", { class: "done current detour", "aria-current": "step" }, STATUS_LABELS[o.status] ?? o.status)
      : null,
  );
  replace($("#state-note"), "Status: ", statusBadge(o.status), " ", stateNote(o));
  const pct = (o.feeBps / 100).toFixed(2);
  const payee = o.payee ?? o.merchant.address;
  replace(
    $("#facts"),
    h("dt", {}, "You pay"),
    h("dd", { id: "you-pay" }, fmt(o.due)),
    h("dt", {}, "Paid to"),
    h(
      "dd",
      { id: "payee" },
      o.merchant.name,
      " ",
      hexCode(payee, 8, 6),
      payee.toLowerCase() === o.merchant.address.toLowerCase() ? null : " (the merchant's payout wallet)",
    ),
    h("dt", {}, "Merchant receives"),
    h("dd", {}, fmt(o.merchantReceives)),
    h("dt", {}, `Platform fee (${pct} %)`),
    h(
      "dd",
      { id: "fee" },
      fmt(o.fee),
      " to ",
      hexCode(o.feeRecipient, 8, 6),
      typeof o.maxFeeBps === "number" ? ` · the merchant signed at most ${(o.maxFeeBps / 100).toFixed(2)} %` : null,
    ),
    h("dt", {}, "Held by"),
    h("dd", {}, "escrow contract ", hexCode(o.escrow, 8, 6), ` on chain ${o.chainId}`),
    h("dt", {}, "Order"),
    h("dd", {}, o.reference, " ", hexCode(o.chainOrderId, 8, 6)),
    h("dt", {}, "Buyer"),
    h("dd", {}, o.buyer ? hexCode(o.buyer, 8, 6) : "anyone with this link"),
    h("dt", {}, "Pay before"),
    h("dd", {}, when(o.paymentDeadline)),
    o.status === "disputed" && o.disputeDefaultAfter
      ? [h("dt", {}, "Refunded in full after"), h("dd", { id: "default-after" }, when(o.disputeDefaultAfter))]
      : null,
  );
  const names = new Map(o.items.filter((i) => i.chainSkuId).map((i) => [BigInt(i.chainSkuId).toString(), i.name]));
  replace(
    $("#items"),
    o.items.length
      ? [
          h("h2", {}, "Items"),
          h(
            "ul",
            { class: "items" },
            o.items.map((i) => h("li", {}, `${i.quantity} × ${i.name}`)),
          ),
        ]
      : null,
    o.terms !== undefined
      ? [
          h("h2", {}, "Terms"),
          h(
            "p",
            { class: "muted small" },
            "What the escrow enforces, field by field as a wallet shows the order (EIP-712), items as a list.",
          ),
          termsList(termsCheck(o), state.token!, o.chainOrderId, names),
        ]
      : null,
  );
}

function paymentExpired(o: CheckoutView): boolean {
  return o.status === "created" && Date.parse(o.paymentDeadline) <= Date.now();
}

function stateNote(o: CheckoutView): string {
  switch (o.status) {
    case "pending":
      return "The merchant's order is being recorded on chain; payment opens in a few seconds.";
    case "created":
      return paymentExpired(o) ? "The payment deadline has passed." : "Waiting for your payment.";
    case "paid":
      return `Your payment is held in escrow. The merchant ships by ${when(o.deadline)}.`;
    case "shipped":
      return `The merchant shipped. Confirm receipt once it arrives; funds release automatically after ${when(o.deadline)}.`;
    case "completed":
      return "Done: the merchant has been paid.";
    case "cancelled":
      return "This order was cancelled.";
    case "refunded":
      return "This order was refunded to you.";
    case "disputed":
      return (
        "Your dispute is open: you and the merchant can settle it (one side proposes a split, the other accepts), " +
        `or the arbiter decides.${o.disputeDefaultAfter ? ` If nobody ends it by ${when(o.disputeDefaultAfter)}, anyone can refund you everything escrowed.` : ""}`
      );
    case "resolved":
      return "The dispute was resolved.";
    default:
      return "";
  }
}

// ------------------------------------------------------------------ wallet

let walletShown = "";

function renderWallet(o: CheckoutView): void {
  const panel = $("#wallet");
  // Re-rendered only when the wallet changes, so an open account list is not reset by polling.
  const shown = `${state.address}|${o.chainId}|${o.buyer}`;
  if (shown === walletShown) return;
  walletShown = shown;
  if (state.address) {
    replace(
      panel,
      state.walletKind === "dev"
        ? h("p", { class: "dev-label", role: "note" }, "Development wallet — local chain only")
        : null,
      h("p", {}, "Signing as ", h("code", { id: "wallet-address", title: state.address }, state.address)),
      h(
        "p",
        { class: "muted small" },
        paysWithGas(state.order)
          ? "This order's token needs your wallet to send the payment and pay its gas."
          : "You sign messages only; the relayer pays the gas.",
      ),
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => disconnect() }, "Use another wallet"),
    );
    return;
  }
  const local = LOCAL_CHAIN_IDS.includes(o.chainId);
  const injected = injectedProvider();
  const buyerDevIndex =
    local && o.buyer ? DEV_ACCOUNTS.find((i) => devWallet(i).address === getAddress(o.buyer!)) : undefined;
  if (buyerDevIndex !== undefined) state.devIndex = buyerDevIndex;
  const select = h(
    "select",
    { id: "dev-account", onchange: (e: Event) => (state.devIndex = Number((e.target as HTMLSelectElement).value)) },
    local
      ? DEV_ACCOUNTS.map((i) =>
          h(
            "option",
            { value: i, selected: i === state.devIndex },
            `Account #${i} ${devWallet(i).address.slice(0, 10)}…`,
          ),
        )
      : [],
  );
  replace(
    panel,
    injected
      ? h(
          "button",
          { type: "button", class: "btn btn-primary", id: "connect-injected", onclick: () => void connect("injected") },
          "Connect browser wallet",
        )
      : local
        ? null
        : h("p", {}, "Install or unlock a browser wallet (such as MetaMask) to pay, then reload this page."),
    local
      ? h(
          "div",
          { class: "dev-wallet" },
          h("p", { class: "dev-label" }, "Development wallet — local chain only"),
          h(
            "p",
            { class: "muted small" },
            "Hardhat's well-known test accounts. Their keys are public: never use them on a real network.",
          ),
          h("label", { for: "dev-account" }, "Test account"),
          h(
            "div",
            { class: "row" },
            select,
            h(
              "button",
              { type: "button", class: "btn", id: "use-dev-wallet", onclick: () => void connect("dev") },
              "Use development wallet",
            ),
          ),
        )
      : null,
  );
}

async function connect(kind: "injected" | "dev"): Promise<void> {
  const msg = $("#action-message");
  try {
    if (kind === "dev") {
      if (!LOCAL_CHAIN_IDS.includes(state.order!.chainId))
        throw new WalletChainError("The development wallet works on local chains only.");
      state.signer = devWallet(state.devIndex);
    } else {
      notify(msg, "info", "Confirm the connection in your wallet…");
      state.signer = await connectInjected(state.order!.chainId);
    }
    state.address = await state.signer.getAddress();
    state.walletKind = kind;
    notify(msg, "");
  } catch (err) {
    notify(msg, "error", ...explain(err));
  }
  render();
}

function disconnect(): void {
  state.signer = null;
  state.address = null;
  state.walletKind = null;
  render();
}

// ------------------------------------------------------------------ actions

async function run(action: BuyerAction, details?: ActionDetails | string): Promise<void> {
  const msg = $("#action-message");
  if (!state.signer || state.busy) return;
  state.busy = true;
  render();
  const byWallet = action === "pay" && paysWithGas(state.order);
  notify(
    msg,
    "info",
    byWallet
      ? "Confirm the approval and the payment in your wallet (you pay the network fee)…"
      : state.walletKind === "injected"
        ? "Sign the request in your wallet…"
        : "Signing…",
  );
  try {
    const client = new BuyerClient(location.origin, state.signer, (input, init) => fetch(input, init));
    // Paying picks the token's best method: an ERC-3009 authorization, a permit, or approve + pay from the wallet.
    if (action === "pay") await client.pay(state.id);
    else await client.act(state.id, action, details);
    state.sent = action;
    const text = {
      pay: "Payment sent",
      confirm: "Receipt confirmed",
      dispute: "Dispute opened",
      propose_settlement: "Proposal sent",
      accept_settlement: "Settlement accepted",
    }[action];
    notify(msg, "success", `${text}. Waiting for the chain to record it…`);
  } catch (err) {
    notify(msg, "error", ...explain(err));
  } finally {
    state.busy = false;
    render();
  }
}

/** Whether paying this order needs the buyer's own transactions (and gas): its token has no gasless method. */
function paysWithGas(o: CheckoutView | null): boolean {
  return !!o && !o.paymentMethods.includes("authorization") && !o.paymentMethods.includes("permit");
}

/** How the payment will happen, said before the buyer presses Pay. */
function paymentNote(o: CheckoutView): HTMLElement {
  const m = o.paymentMethods;
  const text = m.includes("authorization")
    ? "You sign one message (an ERC-3009 authorization of exactly this amount to the escrow); the relayer pays the gas."
    : m.includes("permit")
      ? "You sign a permit for this amount and the payment request; the relayer pays the gas."
      : "This token does not support gasless payment. Your wallet sends two transactions, an approval of the " +
        "escrow for this amount and the payment, and you pay the network fee (gas) for both.";
  return h("p", { class: paysWithGas(o) ? "notice notice-info" : "muted small", id: "payment-method" }, text);
}

function renderActions(o: CheckoutView): void {
  const panel = $("#actions");
  const buyerOk = !o.buyer || !state.address || getAddress(o.buyer) === state.address;
  const parts: (Node | null)[] = [];
  const mismatch = termsMismatch(termsCheck(o));
  const disabled = !state.signer || state.busy || !buyerOk || mismatch;
  if (mismatch) {
    parts.push(
      h(
        "p",
        { class: "notice notice-error", role: "alert", id: "terms-mismatch" },
        "The terms the relayer shows do not match this order's id. Do not pay or sign anything for it.",
      ),
    );
  }
  if (state.address && !buyerOk) {
    parts.push(
      h(
        "p",
        { class: "notice notice-info", role: "status" },
        "The connected wallet is not this order's buyer; only the buyer can act on it.",
      ),
    );
  }
  if (o.status === "pending") {
    parts.push(h("p", { class: "muted" }, "Payment opens once the order is on chain."));
  } else if (o.status === "created") {
    if (paymentExpired(o)) {
      parts.push(
        h(
          "p",
          { class: "notice notice-error", role: "alert", id: "not-payable" },
          `The payment deadline passed on ${when(o.paymentDeadline)}. This order can no longer be paid; ask the merchant for a new one.`,
        ),
      );
    } else {
      parts.push(
        h(
          "button",
          {
            type: "button",
            class: "btn btn-primary btn-large",
            id: "pay",
            disabled: disabled || state.sent === "pay",
            onclick: () => void run("pay"),
          },
          `Pay ${fmt(o.due)}`,
        ),
        paymentNote(o),
        !state.signer ? h("p", { class: "muted small" }, "Choose a wallet above to pay.") : null,
      );
    }
  } else if (["cancelled", "refunded", "completed", "resolved"].includes(o.status)) {
    parts.push(
      h(
        "p",
        { class: o.status === "completed" ? "notice notice-success" : "notice notice-info", id: "not-payable" },
        `This order is ${STATUS_LABELS[o.status].toLowerCase()}; there is nothing left to pay or do.`,
      ),
    );
  }
  const may = (action: OrderAction<"buyer">) => o.allowedActions.buyer.includes(action);
  if (may("confirm")) {
    parts.push(
      h(
        "button",
        {
          type: "button",
          class: "btn btn-primary",
          id: "confirm",
          disabled: disabled || state.sent === "confirm",
          onclick: () => void run("confirm"),
        },
        "Confirm receipt",
      ),
    );
  }
  if (may("dispute")) {
    const evidence = h("textarea", {
      id: "evidence",
      rows: 3,
      maxlength: 2000,
      placeholder: "What went wrong? Links to photos or tracking help the arbiter.",
    });
    parts.push(
      h(
        "form",
        {
          class: "dispute",
          onsubmit: (e: Event) => {
            e.preventDefault();
            const text = evidence.value.trim();
            if (!text) return notify($("#action-message"), "error", "Describe the problem before opening a dispute.");
            void run("dispute", text);
          },
        },
        h("h3", {}, "Problem with the order?"),
        h("label", { for: "evidence" }, "Evidence for the arbiter"),
        evidence,
        h(
          "button",
          { type: "submit", class: "btn btn-danger", id: "dispute", disabled: disabled || state.sent === "dispute" },
          "Open dispute",
        ),
      ),
    );
  }
  if (may("propose_settlement")) parts.push(settlementPanel(o, disabled));
  const typed = (document.getElementById("evidence") as HTMLTextAreaElement | null)?.value;
  const typedAmount = (document.getElementById("settlement-amount") as HTMLInputElement | null)?.value;
  const focused = document.activeElement?.id;
  replace(panel, parts);
  const ev = document.getElementById("evidence") as HTMLTextAreaElement | null;
  if (ev && typed) ev.value = typed;
  const amountInput = document.getElementById("settlement-amount") as HTMLInputElement | null;
  if (amountInput && typedAmount) amountInput.value = typedAmount;
  if (focused) document.getElementById(focused)?.focus();
}

/**
 * A disputed order: the merchant's pending proposal to accept, or a split to propose. A split names the buyer's
 * share of the whole order: what partial refunds already returned counts towards it (the escrow pays the rest).
 */
function settlementPanel(o: CheckoutView, disabled: boolean): HTMLElement {
  const p = readProposal(o.settlementProposal);
  const escrowed = BigInt(o.escrowed ?? o.due);
  const refunded = BigInt(o.amount) - escrowed;
  const rest = (v: string) => (BigInt(o.amount) - BigInt(v)).toString();
  const counted = refunded > 0n ? ` in total, counting the ${fmt(refunded.toString())} already refunded to you` : "";
  const amount = h("input", {
    id: "settlement-amount",
    inputmode: "decimal",
    placeholder: `0 to ${formatUnits(o.amount, state.token!.decimals)}`,
  });
  return h(
    "div",
    { class: "settlement", id: "settlement" },
    h("h3", {}, "Settle the dispute"),
    p?.by === "merchant"
      ? h(
          "div",
          { id: "merchant-proposal" },
          h(
            "p",
            {},
            `The merchant proposes ${fmt(p.amount)} back to you${counted}; the merchant keeps ${fmt(rest(p.amount))} (minus the platform fee).`,
          ),
          h(
            "button",
            {
              type: "button",
              class: "btn btn-primary",
              id: "accept-settlement",
              disabled: disabled || state.sent === "accept_settlement",
              onclick: () => void run("accept_settlement", { buyerTotal: p.amount }),
            },
            `Accept: ${fmt(p.amount)} back to me`,
          ),
        )
      : p?.by === "buyer"
        ? h(
            "p",
            { class: "muted", id: "own-proposal" },
            `You proposed ${fmt(p.amount)} back to you${counted}; the merchant may accept it.`,
          )
        : h("p", { class: "muted" }, "No proposal yet."),
    h(
      "form",
      {
        class: "inline-form",
        onsubmit: (e: Event) => {
          e.preventDefault();
          const units = parseUnits(amount.value, state.token!.decimals);
          if (units === null || units > BigInt(o.amount))
            return notify(
              $("#action-message"),
              "error",
              `Enter what you want back of the order's ${fmt(o.amount)}, from 0 (at most ${state.token!.decimals} decimals).`,
            );
          void run("propose_settlement", { buyerTotal: units });
        },
      },
      h(
        "label",
        { for: "settlement-amount" },
        `Propose what you get back of the order (${state.token!.symbol}${refunded > 0n ? ", refunds so far included" : ""})`,
      ),
      h(
        "div",
        { class: "row" },
        amount,
        h(
          "button",
          {
            type: "submit",
            class: "btn",
            id: "propose-settlement",
            disabled: disabled || state.sent === "propose_settlement",
          },
          "Propose",
        ),
      ),
    ),
  );
}

function render(): void {
  const o = state.order;
  if (!o || !state.token) return;
  renderSummary(o);
  renderWallet(o);
  renderActions(o);
}

// ------------------------------------------------------------------ loading and polling

function fail(message: string, code?: string): void {
  $("#loading").hidden = true;
  $("#checkout").hidden = true;
  notify($("#page-message"), "error", message, code ? " " : "", code ? h("code", {}, code) : null);
}

async function poll(): Promise<void> {
  try {
    const o = await ok(publicApi.GET("/v1/checkout/{chainOrderId}", { params: { path: { chainOrderId: state.id } } }));
    state.token ??= await tokenInfo(o.token);
    if (o.status !== state.lastStatus) {
      state.sent = null;
      state.lastStatus = o.status;
      if (
        state.order &&
        ["paid", "shipped", "completed", "disputed", "resolved", "refunded", "cancelled"].includes(o.status)
      )
        notify($("#action-message"), "success", `The order is now ${STATUS_LABELS[o.status].toLowerCase()}.`);
    }
    state.order = o;
    $("#loading").hidden = true;
    $("#checkout").hidden = false;
    notify($("#page-message"), "");
    render();
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      fail("No order with this id exists. Check the link the merchant gave you.", err.code);
      return; // nothing to poll
    }
    if (!state.order) fail("The order could not be loaded. ", err instanceof ApiError ? err.code : undefined);
    else notify($("#page-message"), "error", ...explain(err));
  }
  window.setTimeout(() => void poll(), POLL_MS);
}

function init(): void {
  const m = /^\/checkout\/([^/?#]+)\/?$/.exec(location.pathname);
  const id = m ? decodeURIComponent(m[1]) : "";
  if (!/^0x[0-9a-fA-F]{64}$/.test(id)) {
    fail("This is not a valid checkout link: an order id is 0x followed by 64 hexadecimal digits.");
    return;
  }
  state.id = id.toLowerCase();
  void poll();
}

init();
