{{- define "rampart.name" -}}{{ .Release.Name }}{{- end -}}
{{- define "rampart.labels" -}}
app.kubernetes.io/name: rampart
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}
{{- define "rampart.selector" -}}
app.kubernetes.io/name: rampart
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "rampart.secret" -}}{{ .Values.existingSecret | default (include "rampart.name" .) }}{{- end -}}
{{- define "rampart.config" -}}
{{- $server := merge (dict "listen" (printf "0.0.0.0:%v" .Values.ports.http) "shutdown_timeout" (printf "%vs" .Values.shutdownTimeoutSeconds)) (.Values.config.server | default dict) -}}
{{- $fixed := dict "version" 1 "server" $server "admin" (dict "listen" (printf "0.0.0.0:%v" .Values.ports.admin) "token" "${RAMPART_ADMIN_TOKEN}") "store" "${RAMPART_STORE_URL}" "shared_state" "${RAMPART_REDIS_URL}" -}}
{{- toYaml (merge $fixed (omit .Values.config "server")) -}}
{{- end -}}
