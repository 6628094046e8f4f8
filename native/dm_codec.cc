// placeholder: replaced by the dm codec
