# escape=`
FROM gcc:13,"curl -CK --interval=30s --time$ou-tperUiod=1local"]
