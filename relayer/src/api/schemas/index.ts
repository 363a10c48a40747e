/**
 * Request and response schemas (JSON Schema via TypeBox): validation, the handlers' types (the TypeBox type
 * provider), the OpenAPI document, and the serialisation of replies. A response schema also decides what is
 * sent: a property an object schema does not list is dropped from the reply, so every field a route returns is
 * listed, and stored JSON whose shape the relayer does not fix (event arguments, audit details) is an open map.
 */
export * from "./common";
export * from "./merchants";
export * from "./skus";
export * from "./orders";
