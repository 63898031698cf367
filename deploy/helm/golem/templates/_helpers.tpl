{{/*
Names. Every object name and every Service URL comes from these helpers, so a URL given to
the UI always names the Service the chart created.
*/}}

{{- define "golem.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The UI's name, and the stem of the others: fullnameOverride, else the release (plus the chart name unless the release already contains it). */}}
{{- define "golem.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "golem.engineName" -}}
{{- if .Values.ollama.fullnameOverride -}}
{{- .Values.ollama.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-ollama" (include "golem.fullname" . | trunc 56 | trimSuffix "-") -}}
{{- end -}}
{{- end -}}

{{- define "golem.pipelinesName" -}}
{{- if .Values.pipelines.fullnameOverride -}}
{{- .Values.pipelines.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-pipelines" (include "golem.fullname" . | trunc 53 | trimSuffix "-") -}}
{{- end -}}
{{- end -}}

{{- define "golem.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "golem.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The UI's Secret (session key, database URL, OpenAI keys). */}}
{{- define "golem.uiSecretName" -}}
{{- include "golem.fullname" . -}}
{{- end -}}

{{- define "golem.pipelinesSecretName" -}}
{{- default (include "golem.pipelinesName" .) .Values.pipelines.existingSecret -}}
{{- end -}}

{{/* URL of a Service of this release: dict "ctx" . "name" NAME "port" PORT. */}}
{{- define "golem.serviceURL" -}}
{{- $ns := .ctx.Release.Namespace -}}
{{- if .ctx.Values.clusterDomain -}}
{{- printf "http://%s.%s.svc.%s:%v" .name $ns .ctx.Values.clusterDomain .port -}}
{{- else -}}
{{- printf "http://%s.%s.svc:%v" .name $ns .port -}}
{{- end -}}
{{- end -}}

{{- define "golem.engineURL" -}}
{{- include "golem.serviceURL" (dict "ctx" . "name" (include "golem.engineName" .) "port" .Values.ollama.service.port) -}}
{{- end -}}

{{- define "golem.pipelinesURL" -}}
{{- include "golem.serviceURL" (dict "ctx" . "name" (include "golem.pipelinesName" .) "port" .Values.pipelines.service.port) -}}
{{- end -}}

{{- define "golem.uiURL" -}}
{{- include "golem.serviceURL" (dict "ctx" . "name" (include "golem.fullname" .) "port" .Values.service.port) -}}
{{- end -}}

{{/* Labels: dict "ctx" . "component" ui|engine|pipelines|test. */}}
{{- define "golem.selectorLabels" -}}
app.kubernetes.io/name: {{ include "golem.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "golem.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "golem.selectorLabels" . }}
app.kubernetes.io/part-of: golem
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{- define "golem.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/*
golem.envList turns an environment given as a list of EnvVar or as a map (NAME: value, or
NAME: {valueFrom: ...}) into a YAML list of EnvVar with string values.
*/}}
{{- define "golem.envList" -}}
{{- $out := list -}}
{{- if kindIs "map" . -}}
{{- range $k := keys . | sortAlpha -}}
{{- $v := index $ $k -}}
{{- if kindIs "map" $v -}}
{{- $out = append $out (merge (dict "name" $k) $v) -}}
{{- else -}}
{{- $out = append $out (dict "name" $k "value" (toString $v)) -}}
{{- end -}}
{{- end -}}
{{- else if kindIs "slice" . -}}
{{- range . -}}
{{- if and (kindIs "map" .) (hasKey . "value") -}}
{{- $out = append $out (merge (dict "value" (toString .value)) (omit . "value")) -}}
{{- else -}}
{{- $out = append $out . -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
golem.env renders a container's env: dict "base" LIST "user" LIST "late" LIST. The user's
variables replace the chart's of the same name; "late" entries may refer to base and user
variables as $(NAME), which Kubernetes expands from the entries before them.
*/}}
{{- define "golem.env" -}}
{{- /* A name given twice by the user (extraEnvVars and a role's own list): the later wins. */ -}}
{{- $user := list -}}
{{- $all := .user -}}
{{- range $i, $e := $all -}}
{{- $later := false -}}
{{- range $j, $f := $all -}}
{{- if and (gt $j $i) (eq (toString $f.name) (toString $e.name)) -}}{{- $later = true -}}{{- end -}}
{{- end -}}
{{- if not $later -}}{{- $user = append $user $e -}}{{- end -}}
{{- end -}}
{{- $names := dict -}}
{{- range $user -}}
{{- $_ := set $names (toString .name) true -}}
{{- end -}}
{{- $out := list -}}
{{- range .base -}}
{{- if not (hasKey $names .name) -}}
{{- $out = append $out . -}}
{{- end -}}
{{- end -}}
{{- $out = concat $out $user -}}
{{- range .late -}}
{{- if not (hasKey $names .name) -}}
{{- $out = append $out . -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Whether the UI's user environment sets NAME: dict "ctx" . "name" NAME; prints "true" or nothing. */}}
{{- define "golem.uiUserSets" -}}
{{- $name := .name -}}
{{- $user := concat (include "golem.envList" .ctx.Values.extraEnvVars | fromYamlArray) (include "golem.envList" .ctx.Values.commonEnvVars | fromYamlArray) -}}
{{- range $user -}}
{{- if eq (toString .name) $name -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* Models the engine pulls at start (GOLEM_PULL) and loads at start (GOLEM_PRELOAD), comma-separated. */}}
{{- define "golem.modelsPull" -}}
{{- $m := .Values.ollama.ollama.models -}}
{{- $pull := list -}}
{{- if kindIs "slice" $m -}}
{{- $pull = $m -}}
{{- else if kindIs "map" $m -}}
{{- $pull = concat (default list $m.pull) (default list $m.run) -}}
{{- end -}}
{{- $pull | uniq | join "," -}}
{{- end -}}

{{- define "golem.modelsPreload" -}}
{{- $m := .Values.ollama.ollama.models -}}
{{- if kindIs "map" $m -}}
{{- default list $m.run | uniq | join "," -}}
{{- end -}}
{{- end -}}

{{/* The ingress-nginx annotations a streamed chat reply needs, under the user's own. */}}
{{- define "golem.ingressAnnotations" -}}
{{- $a := dict -}}
{{- if .Values.ingress.streaming -}}
{{- $a = dict "nginx.ingress.kubernetes.io/proxy-buffering" "off" "nginx.ingress.kubernetes.io/proxy-request-buffering" "off" "nginx.ingress.kubernetes.io/proxy-read-timeout" "3600" "nginx.ingress.kubernetes.io/proxy-send-timeout" "3600" "nginx.ingress.kubernetes.io/proxy-body-size" "0" -}}
{{- end -}}
{{- $a = merge (deepCopy (default dict .Values.ingress.annotations)) $a -}}
{{- if $a -}}
{{- toYaml $a -}}
{{- end -}}
{{- end -}}

{{/*
golem.keptSecret prints a Secret value, base64: dict "ctx" . "secret" NAME "key" KEY "value" VALUE.
VALUE when set; else the value the Secret already holds in the cluster (so upgrades keep it);
else 48 random characters (first install, and helm template).
*/}}
{{- define "golem.keptSecret" -}}
{{- if .value -}}
{{- .value | toString | b64enc -}}
{{- else -}}
{{- $old := lookup "v1" "Secret" .ctx.Release.Namespace .secret -}}
{{- $data := dict -}}
{{- if $old -}}{{- $data = default dict $old.data -}}{{- end -}}
{{- if hasKey $data .key -}}
{{- index $data .key -}}
{{- else -}}
{{- randAlphaNum 48 | b64enc -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Pod-level settings shared by the three workloads: dict "ctx" . "v" VALUES-OF-THE-ROLE. */}}
{{- define "golem.podCommon" -}}
{{- $ctx := .ctx -}}
{{- with $ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
serviceAccountName: {{ include "golem.serviceAccountName" $ctx }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with $ctx.Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

{{/* Probes of a container: the role's values. */}}
{{- define "golem.probes" -}}
{{- with .startupProbe }}
startupProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .livenessProbe }}
livenessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .readinessProbe }}
readinessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* A PersistentVolumeClaim spec: the role's persistence values. */}}
{{- define "golem.pvcSpec" -}}
accessModes:
  {{- toYaml (.accessModes | default (list "ReadWriteOnce")) | nindent 2 }}
{{- if .storageClass }}
{{- if eq .storageClass "-" }}
storageClassName: ""
{{- else }}
storageClassName: {{ .storageClass | quote }}
{{- end }}
{{- end }}
{{- with .volumeName }}
volumeName: {{ . | quote }}
{{- end }}
{{- with .selector }}
selector:
  {{- toYaml . | nindent 2 }}
{{- end }}
resources:
  requests:
    storage: {{ .size | quote }}
{{- end -}}

{{/* Render-time checks with messages that say what to change. */}}
{{- define "golem.validate" -}}
{{- $v := .Values -}}
{{- if or (contains "open-webui/open-webui" $v.image.repository) (contains "open-webui/pipelines" $v.image.repository) (contains "ollama/ollama" $v.image.repository) -}}
{{- fail (printf "image.repository %s is not Golem's image: this chart runs all three roles from the golem image; drop image from your values or point it at your golem image" $v.image.repository) -}}
{{- end -}}
{{- if gt (int $v.replicaCount) 1 -}}
{{- if not (or $v.databaseUrl (include "golem.uiUserSets" (dict "ctx" . "name" "DATABASE_URL"))) -}}
{{- fail (printf "replicaCount is %d: more than one UI replica needs a shared PostgreSQL database; set databaseUrl (postgresql://user:password@host:5432/db) or keep replicaCount at 1" (int $v.replicaCount)) -}}
{{- end -}}
{{- if and $v.persistence.enabled (not $v.persistence.existingClaim) (not (has "ReadWriteMany" $v.persistence.accessModes)) -}}
{{- fail (printf "replicaCount is %d: the UI replicas share one volume; set persistence.accessModes to [ReadWriteMany] (a storage class that supports it), use persistence.existingClaim, or set persistence.enabled=false" (int $v.replicaCount)) -}}
{{- end -}}
{{- end -}}
{{- if and $v.ollama.enabled (gt (int $v.ollama.replicaCount) 1) $v.ollama.persistentVolume.enabled (not $v.ollama.persistentVolume.existingClaim) (not (has "ReadWriteMany" $v.ollama.persistentVolume.accessModes)) -}}
{{- fail "ollama.replicaCount > 1 shares one model volume: set ollama.persistentVolume.accessModes to [ReadWriteMany] or use an existing claim" -}}
{{- end -}}
{{- if and (kindIs "map" $v.ollama.ollama.models) (hasKey $v.ollama.ollama.models "create") -}}
{{- fail "ollama.ollama.models.create is not supported: list the models under pull or run, or create them with `golem create` through the API" -}}
{{- end -}}
{{- if and $v.openaiBaseApiUrls $v.openaiApiKeys (ne (len $v.openaiBaseApiUrls) (len $v.openaiApiKeys)) -}}
{{- fail (printf "openaiApiKeys has %d keys for %d openaiBaseApiUrls: give one key per URL, in the same order" (len $v.openaiApiKeys) (len $v.openaiBaseApiUrls)) -}}
{{- end -}}
{{- if and $v.persistence.enabled (ne $v.persistence.provider "local") -}}
{{- fail (printf "persistence.provider %q is not supported: Golem keeps the UI's files on a volume (provider local)" $v.persistence.provider) -}}
{{- end -}}
{{- end -}}
