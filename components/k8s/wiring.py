"""Names the platform's parts agree on: namespaces, the gateway's labels, the TLS secret. One place, so the
platform, the endpoint security and the model namespace cannot drift apart."""

ISTIO_NAMESPACE = "istio-system"
# Knative's and KServe's default Istio gateways select `istio: ingressgateway`; the gateway chart derives that
# label from the release name minus "istio-", so this exact release name wires everything up.
GATEWAY_RELEASE = "istio-ingressgateway"
GATEWAY_SELECTOR = {"istio": "ingressgateway"}
# net-istio's cluster-local gateway runs on the same pods (config/203-local-gateway.yaml): Service
# knative-local-gateway, port 80 -> 8081; KServe sends external traffic through it after the ingress hop.
LOCAL_GATEWAY_PORT = 8081
KNATIVE_NAMESPACE = "knative-serving"
ACTIVATOR_SELECTOR = {"app": "activator"}
AUTOSCALER_SELECTOR = {"app": "autoscaler"}
CERT_MANAGER_NAMESPACE = "cert-manager"
TLS_SECRET = "model-gateway-tls"
PRIVATE_CA_ISSUER = "kserve-fluid-ca"
KSERVE_NAMESPACE = "kserve"
FLUID_NAMESPACE = "fluid-system"
